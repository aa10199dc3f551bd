"""What {% dynchat %} costs a page render: database queries and time, side by side in one run.

Serves the example site's pricing page (a targeted page) through the full Django stack many times,
alternating between the real templates and copies identical but for the tag, and prints the
queries the tag adds on a warm cache and the ratio of median render times.

    python bench/tag_overhead.py [--rounds 2000] [--per-round 2]

Runs on a throwaway SQLite database and an in-process cache, so it needs no services.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The base template's tag, with whatever arguments it passes (a CSP nonce).
TAG_LINE = re.compile(r"\{% load dynchat %\}\{% dynchat[^%]*%\}")


def setup(workdir):
    """A migrated demo database and a copy of the templates without the tag."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_site.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.pop("REDIS_URL", None)

    notag = workdir / "templates" / "notag"
    shutil.copytree(ROOT / "example_site" / "templates", notag)
    base = notag / "base.html"
    text, found = TAG_LINE.subn("", base.read_text())
    assert found == 1, "the base template should have the tag once"
    base.write_text(text)
    page_template = notag / "home" / "standard_page.html"
    page_template.write_text(
        page_template.read_text().replace(
            '{% extends "base.html" %}', '{% extends "notag/base.html" %}'
        )
    )

    import django
    from django.conf import settings

    settings.TEMPLATES[0]["DIRS"] = [*settings.TEMPLATES[0]["DIRS"], workdir / "templates"]
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_dynchat_demo", verbosity=0)


def measure(rounds, per_round):
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from example_site.home.models import StandardPage

    with_tag = StandardPage.template
    without_tag = "notag/home/standard_page.html"
    client = Client()

    def render(template):
        StandardPage.template = template
        response = client.get("/pricing/")
        assert response.status_code == 200
        return response

    # Warm everything: template caches, the targeting cache, Wagtail's site root paths.
    for _ in range(50):
        render(with_tag)
        render(without_tag)
    assert b"dynchat-config" in render(with_tag).content
    assert b"dynchat-config" not in render(without_tag).content

    def queries(template):
        # Django empties the query log when a request starts, so it must be empty before the
        # capture begins for the count to be right, and read before the next request.
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            render(template)
        return len(captured)

    tagged_queries, plain_queries = queries(with_tag), queries(without_tag)
    added_queries = tagged_queries - plain_queries

    timings = {with_tag: [], without_tag: []}
    for round_index in range(rounds):
        # Alternate which variant goes first so drift in machine load hits both equally.
        order = (with_tag, without_tag) if round_index % 2 else (without_tag, with_tag)
        for template in order:
            for _ in range(per_round):
                started = time.perf_counter()
                render(template)
                timings[template].append(time.perf_counter() - started)
    StandardPage.template = with_tag
    return (
        added_queries,
        statistics.median(timings[with_tag]),
        statistics.median(timings[without_tag]),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short rounds: the two variants alternate every couple of requests, so machine noise
    # (other processes, garbage collection) lands on both alike.
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--per-round", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        setup(Path(workdir))
        added_queries, tagged, plain = measure(args.rounds, args.per_round)
    ratio = tagged / plain
    print(f"queries added by {{% dynchat %}} on a warm cache: {added_queries} (budget 0)")
    print(
        f"median render of /pricing/: {tagged * 1000:.3f} ms with the tag, "
        f"{plain * 1000:.3f} ms without ({args.rounds * args.per_round} requests each)"
    )
    print(f"ratio with/without: {ratio:.4f} (+{(ratio - 1) * 100:.2f} %, budget +3 %)")
    return 0 if added_queries == 0 and ratio <= 1.03 else 1


if __name__ == "__main__":
    sys.exit(main())

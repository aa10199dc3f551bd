"""Measure the visitor-facing assets against their size budgets.

The loader runs on every page; the widget and its CSS load only when a dialogue is shown. Sizes
are what a visitor downloads: gzip level 9, as served by a typical compressing web server or CDN.

Run from the repository root: ``python bench/widget_size.py`` (exits 1 when over budget).
"""

import gzip
import sys
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "wagtail_dynchat" / "static" / "wagtail_dynchat"

# (label, files measured together, budget in gzipped bytes)
BUDGETS = [
    ("loader.js", ["loader.js"], 2048),
    ("widget.js + widget.css", ["widget.js", "widget.css"], 12288),
    # Only where a meeting card is awaited.
    ("meeting.js + meeting.css", ["meeting.js", "meeting.css"], 2048),
]


def measure(names):
    """Raw and gzipped sizes of the files, each compressed on its own (they are served apart)."""
    raw = gzipped = 0
    for name in names:
        data = (STATIC / name).read_bytes()
        raw += len(data)
        gzipped += len(gzip.compress(data, compresslevel=9))
    return raw, gzipped


def main():
    over = False
    for label, names, budget in BUDGETS:
        raw, gzipped = measure(names)
        verdict = "ok" if gzipped <= budget else "OVER BUDGET"
        over = over or gzipped > budget
        print(f"{label}: {raw} B raw, {gzipped} B gzipped (budget {budget} B) {verdict}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

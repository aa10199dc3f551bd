"""The built wheel ships templates and static files, and nothing from the repo around it."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        cwd=out,
    )
    (wheel,) = out.glob("wagtail_dynchat-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_contains_static_files_and_templates(wheel_names):
    for name in (
        "wagtail_dynchat/static/wagtail_dynchat/loader.js",
        "wagtail_dynchat/static/wagtail_dynchat/widget.js",
        "wagtail_dynchat/static/wagtail_dynchat/widget.css",
        "wagtail_dynchat/templates/wagtail_dynchat/preview/dialogue.html",
        "wagtail_dynchat/templates/wagtail_dynchat/admin/choose_start.html",
        "wagtail_dynchat/migrations/0001_initial.py",
    ):
        assert name in wheel_names


def test_wheel_contains_no_tests_or_example_site(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names}
    assert "tests" not in top_level
    assert "example_site" not in top_level
    assert "bench" not in top_level
    assert not any(name.endswith(".pyc") for name in wheel_names)

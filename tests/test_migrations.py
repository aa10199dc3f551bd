"""Models and migrations agree, and migrations respect swappable Page models."""

from io import StringIO
from pathlib import Path

from django.core.management import call_command

import wagtail_dynchat


def test_no_missing_migrations(db):
    out = StringIO()
    call_command("makemigrations", "wagtail_dynchat", "--check", "--dry-run", stdout=out)


def test_migrations_do_not_hard_code_the_page_model():
    folder = Path(wagtail_dynchat.__file__).parent / "migrations"
    for migration in folder.glob("*.py"):
        text = migration.read_text().lower()
        assert "'wagtailcore.page'" not in text and '"wagtailcore.page"' not in text, migration
        assert "wagtail_page_model" not in text, migration

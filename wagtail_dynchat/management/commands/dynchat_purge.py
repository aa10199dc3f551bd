"""Purge conversation events, anonymous people, rollups and meetings past their retention.

    manage.py dynchat_purge

Retention comes from WAGTAIL_DYNCHAT (EVENT_RETENTION_DAYS, ROLLUP_RETENTION_DAYS,
RECORD_RETENTION_DAYS); rows go in batches of PURGE_BATCH_SIZE, each its own transaction.
"""

from django.core.management.base import BaseCommand

from wagtail_dynchat.reports.retention import purge_expired


class Command(BaseCommand):
    help = "Delete data older than the retention settings (batched, safe to interrupt)."

    def handle(self, *args, **options):
        """Purge and print how many rows of each kind were deleted."""
        counts = purge_expired()
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count} deleted")

"""Roll up conversation events into the daily report tables.

    manage.py dynchat_rollup                      # yesterday
    manage.py dynchat_rollup --day 2026-05-01
    manage.py dynchat_rollup --from 2026-04-01 --to 2026-04-30   # backfill, oldest first

Re-running a day replaces its rollups (idempotent).
"""

import datetime

from django.core.management.base import BaseCommand, CommandError

from wagtail_dynchat.reports.rollup import local_today, rollup_day

MAX_BACKFILL_DAYS = 731


def _day(value, name):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} must be a date as YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = "Roll up one day (yesterday by default) or a range of days of conversation events."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="the local day to roll up (YYYY-MM-DD)")
        parser.add_argument("--from", dest="start", help="first day of a backfill (YYYY-MM-DD)")
        parser.add_argument("--to", dest="end", help="last day of a backfill (default yesterday)")

    def handle(self, *args, **options):
        """Roll the chosen days up, one transaction per day, and print a line per day."""
        yesterday = local_today() - datetime.timedelta(days=1)
        if options["day"] and (options["start"] or options["end"]):
            raise CommandError("Give either --day or --from/--to, not both.")
        if options["day"]:
            days = [_day(options["day"], "day")]
        elif options["start"]:
            start = _day(options["start"], "from")
            end = _day(options["end"], "to") if options["end"] else yesterday
            if start > end:
                raise CommandError("--from must not be after --to.")
            count = (end - start).days + 1
            if count > MAX_BACKFILL_DAYS:
                raise CommandError(f"A backfill covers at most {MAX_BACKFILL_DAYS} days.")
            days = [start + datetime.timedelta(days=offset) for offset in range(count)]
        elif options["end"]:
            raise CommandError("--to needs --from.")
        else:
            days = [yesterday]
        if days[-1] > local_today():
            raise CommandError("Days in the future have nothing to roll up.")
        for day in days:
            try:
                result = rollup_day(day)
            except ValueError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"{day}: {result['events']} events, {result['rows']} rows, {result['seconds']}s"
            )

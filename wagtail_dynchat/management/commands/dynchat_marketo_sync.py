"""Sync leads from Marketo in this process, with a progress bar on stderr.

    manage.py dynchat_marketo_sync --initial [--since 2015-01-01]
    manage.py dynchat_marketo_sync --incremental
    manage.py dynchat_marketo_sync --status

``--initial`` starts an initial sync (or resumes the running one, even one started from the
admin) and drives it here until it is done: interrupt it at any time and run it again to go on
from the window and byte it reached. Celery is not needed.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from wagtail_dynchat.marketo import sync
from wagtail_dynchat.models import SyncRun

BAR_WIDTH = 30


def _duration(seconds):
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def describe(info):
    """One line about a run's progress (the ``progress()`` dict)."""
    filled = int(BAR_WIDTH * info["percent"] / 100)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    line = (
        f"[{bar}] {info['percent']:5.1f}% windows {info['windows_done']}/{info['windows_total']}"
        f" rows {info['rows']:,} {info['rows_per_second']:,.0f}/s"
        f" ETA {_duration(info['eta_seconds'])}"
    )
    if info["waiting_until"]:
        line += f" waiting ({info['waiting_for']}) until {info['waiting_until']:%Y-%m-%d %H:%M} UTC"
    return line


class Command(BaseCommand):
    help = "Sync Marketo leads into people and companies (initial bulk sync or changes)."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--initial", action="store_true", help="bulk sync of every lead")
        mode.add_argument("--incremental", action="store_true", help="leads changed lately")
        mode.add_argument("--status", action="store_true", help="show the latest sync runs")
        parser.add_argument(
            "--since", help="first day of the initial sync (YYYY-MM-DD), default SYNC_SINCE"
        )

    def handle(self, *args, **options):
        """Run the chosen mode; configuration problems end with a CommandError."""
        since = options.get("since")
        if since and not parse_date(since):
            raise CommandError(f"--since {since!r} is not a date (YYYY-MM-DD).")
        if since and not options["initial"]:
            raise CommandError("--since only goes with --initial.")
        if options["status"]:
            return self.status()
        try:
            if options["initial"]:
                return self.initial(since)
            return self.incremental()
        except sync.SyncError as error:
            raise CommandError(str(error)) from error

    def status(self):
        runs = list(SyncRun.objects.order_by("-started_at", "-pk")[:5])
        if not runs:
            self.stdout.write("No Marketo sync has run yet.")
        for run in runs:
            info = sync.progress(run)
            self.stdout.write(
                f"#{run.pk} {run.kind} {run.status}, started {run.started_at:%Y-%m-%d %H:%M}: "
                + describe(info)
            )
            if info["last_error"]:
                self.stdout.write(f"    last error: {info['last_error']}")

    def _draw(self, run, final=False):
        line = describe(sync.progress(run))
        if self.stderr.isatty():
            self.stderr.write("\r" + line.ljust(self._width), ending="\n" if final else "")
            self._width = len(line)
            self.stderr.flush()
        elif final or time.monotonic() - self._drawn > 5:
            self.stderr.write(line)  # a log, not a terminal: a line every few seconds
            self._drawn = time.monotonic()

    def initial(self, since):
        run = sync.start_initial_sync(since, enqueue=False)
        self._width, self._drawn = 0, 0.0
        self.stdout.write(
            f"Initial sync #{run.pk}: leads created {run.range_start:%Y-%m-%d} to "
            f"{run.range_end:%Y-%m-%d %H:%M} UTC in {run.windows_total} windows."
        )
        try:
            while True:
                delay = sync.step(run.pk, on_progress=self._draw)
                run.refresh_from_db()
                self._draw(run)
                if delay is None:
                    break
                deadline = time.monotonic() + delay
                while (left := deadline - time.monotonic()) > 0:
                    time.sleep(min(1.0, left))
                    self._draw(run)
        except KeyboardInterrupt:
            self.stderr.write("")
            raise CommandError(
                f"Interrupted: sync #{run.pk} is still running; run --initial again to resume."
            ) from None
        self._draw(run, final=True)
        if run.status != SyncRun.STATUS_DONE:
            raise CommandError(f"Sync #{run.pk} {run.status}: {run.last_error}")
        info = sync.progress(run)
        self.stdout.write(
            f"Done: {run.rows:,} leads in {info['elapsed_seconds']} s "
            f"({info['rows_per_second']:,.0f} rows/s); {info['linked']} chat people linked, "
            f"{info['without_email']} leads stored without their e-mail (held by another person)."
        )

    def incremental(self):
        run = sync.sync_changes()
        if run is None:
            running = SyncRun.objects.filter(
                kind=SyncRun.KIND_INITIAL, status=SyncRun.STATUS_RUNNING
            ).exists()
            reason = "an initial sync is running" if running else "run --initial first"
            raise CommandError(f"No incremental sync: {reason}.")
        if run.status != SyncRun.STATUS_DONE:
            raise CommandError(f"Sync #{run.pk} {run.status}: {run.last_error}")
        self.stdout.write(f"Changes since {run.since:%Y-%m-%d %H:%M} UTC: {run.rows:,} leads.")

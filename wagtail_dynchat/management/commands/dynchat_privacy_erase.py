"""Erase an e-mail address: delete the person, anonymise their conversations, events and
meetings (report counts are kept).

    manage.py dynchat_privacy_erase someone@example.com [--yes]
"""

from django.core.management.base import BaseCommand, CommandError

from wagtail_dynchat.reports import privacy

from .dynchat_privacy_export import checked_email


class Command(BaseCommand):
    help = "Erase everything that identifies an e-mail address (asks first unless --yes)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, **options):
        """Confirm, erase and print what was done."""
        email = checked_email(options["email"])
        if not options["yes"]:
            answer = input(f"Erase everything about {email}? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing was erased.")
        counts = privacy.erase(email)
        if not any(counts.values()):
            self.stdout.write(f"Nothing is known about {email}.")
            return
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count}")

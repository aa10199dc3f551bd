"""Create and approve the custom activity types of dialogues in Marketo.

    python manage.py dynchat_marketo_setup          # create, add attributes, approve
    python manage.py dynchat_marketo_setup --check  # only report what is missing

Running it again changes nothing that is already in place.
"""

from django.core.management.base import BaseCommand, CommandError

from wagtail_dynchat.marketo import activities
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.marketo.errors import MarketoError


class Command(BaseCommand):
    help = "Create and approve the dialogue activity types in Marketo (custom activities)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report what exists and what is missing; change nothing.",
        )

    def handle(self, *args, check=False, **options):
        """Report each activity type: what was done (or would be, with --check) and its status."""
        client = MarketoClient()
        if not client.is_configured():
            raise CommandError(
                "Marketo is not configured: set BASE_URL, CLIENT_ID and CLIENT_SECRET in "
                "WAGTAIL_DYNCHAT['MARKETO']."
            )
        try:
            report = activities.ensure_activity_types(client, check=check)
        except activities.SetupError as error:
            raise CommandError(str(error)) from error
        except MarketoError as error:
            raise CommandError(f"Marketo answered with an error: {error}") from error
        incomplete = False
        for key, api_name, actions, status in report:
            name = activities.TYPES[key].name
            if check and actions:
                incomplete = True
                done = "needs: " + "; ".join(actions)
            elif actions:
                done = "; ".join(actions)
            else:
                done = "found, nothing to do"
            self.stdout.write(f"{name} ({api_name}): {done} [{status}]")
        if check and incomplete:
            raise CommandError(
                "Some activity types are missing or not approved; run without --check."
            )
        self.stdout.write(
            self.style.SUCCESS("Activity types are ready.")
            if not check
            else "All activity types are approved."
        )

"""Export everything known about an e-mail address as JSON (a subject access request).

manage.py dynchat_privacy_export someone@example.com [--output export.json]
"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from wagtail_dynchat.reports import privacy


def checked_email(value):
    """The normalised e-mail address, or a CommandError when it is not one."""
    email = privacy.normalise(value)
    try:
        validate_email(email)
    except ValidationError:
        raise CommandError(f"{value!r} is not an e-mail address.") from None
    return email


class Command(BaseCommand):
    help = "Print (or write to --output) everything known about an e-mail address, as JSON."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--output", help="file to write instead of standard output")

    def handle(self, *args, **options):
        """Export and write the JSON document; says on stderr when nothing was found."""
        data = privacy.export(checked_email(options["email"]))
        text = json.dumps(data, cls=privacy.JSON_ENCODER, indent=2, ensure_ascii=False)
        if not data["found"]:
            self.stderr.write(f"Nothing is known about {data['email']}.")
        if options["output"]:
            try:
                with open(options["output"], "w", encoding="utf-8") as output:
                    output.write(text + "\n")
            except OSError as error:
                raise CommandError(f"Cannot write {options['output']}: {error}") from None
            self.stderr.write(f"Written to {options['output']}.")
        else:
            self.stdout.write(text)

"""Re-encrypt every stored calendar token with the first CALENDAR_ENCRYPTION_KEY.

Rotating the key: put the new key first in the list (keeping the old one after it), run this
command, then drop the old key. Until then both keys decrypt.
"""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError

from wagtail_dynchat.meetings import tokens
from wagtail_dynchat.models import CalendarConnection


class Command(BaseCommand):
    help = "Re-encrypt every calendar connection's tokens with the first CALENDAR_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        """Rotate each connection in its own save, so a failure leaves the others done."""
        tokens.check_key()
        done = failed = 0
        for connection in CalendarConnection.objects.only("pk", "encrypted_tokens").iterator():
            try:
                rotated = tokens.rotate(bytes(connection.encrypted_tokens))
            except InvalidToken:
                failed += 1
                self.stderr.write(
                    f"Connection {connection.pk}: no configured key opens its tokens; "
                    "the agent must connect the calendar again."
                )
                continue
            CalendarConnection.objects.filter(pk=connection.pk).update(encrypted_tokens=rotated)
            done += 1
        self.stdout.write(f"Re-encrypted {done} calendar connection(s).")
        if failed:
            raise CommandError(f"{failed} connection(s) could not be decrypted.")

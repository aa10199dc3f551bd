"""`dynchat_rotate_calendar_key`: moving stored calendar tokens to a new encryption key."""

import datetime
import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from wagtail_dynchat.meetings import tokens
from wagtail_dynchat.meetings.providers.base import Tokens
from wagtail_dynchat.models import CalendarConnection

from .test_routing import make_agent

BUNDLE = Tokens(
    access_token="access",
    refresh_token="refresh",
    expires_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
    account="ann@sales.example",
)


def use_keys(settings, *keys):
    settings.WAGTAIL_DYNCHAT = {**settings.WAGTAIL_DYNCHAT, "CALENDAR_ENCRYPTION_KEY": list(keys)}


def test_rotation_moves_every_connection_to_the_new_key(db, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(settings, old)
    agent = make_agent("ann")
    CalendarConnection.objects.filter(agent=agent).update(encrypted_tokens=tokens.encrypt(BUNDLE))

    use_keys(settings, new, old)
    out = io.StringIO()
    call_command("dynchat_rotate_calendar_key", stdout=out)
    assert "Re-encrypted 1 calendar connection(s)." in out.getvalue()

    use_keys(settings, new)  # the old key can go now
    stored = CalendarConnection.objects.get(agent=agent).encrypted_tokens
    assert tokens.decrypt(stored) == BUNDLE


def test_tokens_no_key_opens_are_reported(db, settings):
    use_keys(settings, Fernet.generate_key().decode())
    make_agent("ann")  # its connection holds no valid token at all
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 connection"):
        call_command("dynchat_rotate_calendar_key", stderr=err, stdout=io.StringIO())
    assert "must connect the calendar again" in err.getvalue()

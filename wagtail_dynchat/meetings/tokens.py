"""Calendar tokens at rest: a provider's ``Tokens`` bundle as Fernet-encrypted JSON.

The key is ``WAGTAIL_DYNCHAT["CALENDAR_ENCRYPTION_KEY"]``: one Fernet key, or a list of keys to
rotate them. The first key of a list encrypts; every key of it decrypts, so a new key goes first
and an old one stays in the list until :func:`rotate` has re-encrypted every connection.
"""

import dataclasses
import datetime
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

from ..conf import dynchat_settings

SETTING = "WAGTAIL_DYNCHAT['CALENDAR_ENCRYPTION_KEY']"
HOW_TO = (
    'Generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)

__all__ = ["InvalidToken", "decrypt", "encrypt", "fernet", "rotate"]


def _keys():
    value = dynchat_settings.CALENDAR_ENCRYPTION_KEY
    if isinstance(value, (str, bytes)):
        value = [value]
    keys = [key for key in (value or []) if key]
    if not keys:
        raise ImproperlyConfigured(
            f"{SETTING} is not set: calendar tokens cannot be stored without it. {HOW_TO}"
        )
    return keys


def fernet():
    """A MultiFernet over the configured keys; ImproperlyConfigured when a key is missing or
    is not a Fernet key (the message never contains the key)."""
    fernets = []
    for position, key in enumerate(_keys(), start=1):
        try:
            fernets.append(Fernet(key))
        except (TypeError, ValueError):
            which = f"Key number {position} of {SETTING}" if position > 1 else SETTING
            raise ImproperlyConfigured(
                f"{which} is not a valid Fernet key (32 url-safe base64-encoded bytes). {HOW_TO}"
            ) from None
    return MultiFernet(fernets)


def check_key():
    """Raise ImproperlyConfigured unless the key setting is usable (for checks and views)."""
    fernet()


def _to_json(tokens):
    data = dataclasses.asdict(tokens)
    for name, value in data.items():
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.UTC)
            data[name] = {"datetime": value.isoformat()}
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _from_json(text, tokens_class):
    data = json.loads(text)
    known = {field.name for field in dataclasses.fields(tokens_class)}
    values = {}
    for name, value in data.items():
        if name not in known:  # written by a newer version; ignore rather than fail
            continue
        if isinstance(value, dict) and set(value) == {"datetime"}:
            value = datetime.datetime.fromisoformat(value["datetime"])
        values[name] = value
    return tokens_class(**values)


def encrypt(tokens):
    """The bytes to store in ``CalendarConnection.encrypted_tokens``."""
    return fernet().encrypt(_to_json(tokens).encode())


def decrypt(blob, tokens_class=None):
    """The ``Tokens`` bundle from stored bytes; raises ``InvalidToken`` when no configured key
    opens it (a key was dropped too early, or the data is damaged)."""
    if tokens_class is None:
        from .providers.base import Tokens as tokens_class
    return _from_json(fernet().decrypt(bytes(blob)).decode(), tokens_class)


def rotate(blob):
    """The same tokens re-encrypted with the first key (after adding a new key in front)."""
    return fernet().rotate(bytes(blob))

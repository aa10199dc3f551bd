"""Calendar providers: Google Calendar and Microsoft Graph behind one set of functions.

Each provider module (``google``, ``microsoft``) exposes the same stateless functions over a
:class:`~.base.Tokens` bundle::

    authorization_url(redirect_uri, state) -> (url, flow)      # flow: keep it in the session
    finish(redirect_uri, flow, query) -> Tokens                # query: the redirect's parameters
    refresh(tokens, *, force=False) -> Tokens
    revoke(tokens) -> None
    free_busy(tokens, emails, start, end) -> Busy
    create_event(tokens, calendar_id, spec, key) -> event id   # idempotent per key
    update_event(tokens, calendar_id, event_id, spec) -> None
    cancel_event(tokens, calendar_id, event_id) -> None        # already gone = success
    get_event(tokens, calendar_id, event_id) -> EventInfo

Calls may refresh the access token and then update ``tokens`` in place: store the bundle again
after every call. Errors are :class:`~.base.ProviderError` and its subclasses.
"""

from importlib import import_module

from .base import (
    Busy,
    EventInfo,
    EventSpec,
    ProviderError,
    ReauthRequired,
    Throttled,
    Tokens,
    Transient,
)

#: Provider names as stored on a calendar connection.
PROVIDERS = ("google", "microsoft")

__all__ = [
    "PROVIDERS",
    "Busy",
    "EventInfo",
    "EventSpec",
    "ProviderError",
    "ReauthRequired",
    "Throttled",
    "Tokens",
    "Transient",
    "get_provider",
]


def get_provider(name: str):
    """The provider module for ``"google"`` or ``"microsoft"``."""
    if name not in PROVIDERS:
        raise ValueError(f"Unknown calendar provider {name!r}; expected one of {PROVIDERS}")
    return import_module(f"{__name__}.{name}")

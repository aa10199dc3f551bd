"""Developer-owned settings, read lazily from the ``WAGTAIL_DYNCHAT`` dict.

Keys are flat. Unknown keys raise ``AttributeError`` so that typos fail loudly, and the values are
re-read whenever Django's ``setting_changed`` fires (``override_settings`` in tests).
"""

from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS = {
    # Master switch: when False the tag renders nothing and the API answers 404.
    "ENABLED": True,
    # Django cache alias used for the targeting index, rate limits and compiled flows.
    "CACHE_ALIAS": "default",
    # How long a targeting entry may live in the cache; signals invalidate it earlier.
    "CACHE_TIMEOUT": 60 * 60,
    # Per-IP and per-conversation rate limits of the visitor API ("<count>/<s|m|h|d>").
    "RATE_LIMIT_IP": "120/m",
    "RATE_LIMIT_CONVERSATION": "30/m",
    # Reverse proxies in front of the site. 0 means the client address is REMOTE_ADDR and
    # X-Forwarded-For is ignored (a client could write anything there); N takes the address the
    # N-th proxy from the end appended to that header.
    "NUM_PROXIES": 0,
    # Largest request body the visitor API reads, in bytes.
    "MAX_BODY_BYTES": 8 * 1024,
    # Cookie names and lifetimes of visitor identity.
    "VISITOR_COOKIE": "dynchat_vid",
    "VISITOR_COOKIE_AGE": 365 * 24 * 60 * 60,
    "SESSION_COOKIE": "dynchat_sid",
    "SESSION_IDLE_SECONDS": 30 * 60,
    # Where a visitor's "yes" is kept on sites that ask for consent first (ChatSettings).
    "CONSENT_COOKIE": "dynchat_consent",
    "CONSENT_COOKIE_AGE": 365 * 24 * 60 * 60,
    # Origins (scheme://host[:port]) allowed to call the API besides the request's own host.
    "ALLOWED_ORIGINS": [],
    # Time zone of "local weekday" and "local hour" in audiences; None uses settings.TIME_ZONE.
    "TIME_ZONE": None,
    # Longest text a visitor may type into a capture card.
    "MAX_ANSWER_LENGTH": 500,
    # Fernet key (urlsafe base64, 32 bytes) encrypting calendar tokens at rest. Required once an
    # agent connects a calendar; generate one with cryptography.fernet.Fernet.generate_key().
    "CALENDAR_ENCRYPTION_KEY": None,
    # OAuth apps of the calendar providers. Endpoint keys exist for tests and sovereign clouds.
    "GOOGLE": {
        "CLIENT_ID": "",
        "CLIENT_SECRET": "",
        "AUTH_URI": "https://accounts.google.com/o/oauth2/auth",
        "TOKEN_URI": "https://oauth2.googleapis.com/token",
        "REVOKE_URI": "https://oauth2.googleapis.com/revoke",
        "API_ENDPOINT": "https://www.googleapis.com",
    },
    "MICROSOFT": {
        "CLIENT_ID": "",
        "CLIENT_SECRET": "",
        # A work or school tenant: getSchedule does not serve personal Microsoft accounts.
        "AUTHORITY": "https://login.microsoftonline.com/organizations",
        "GRAPH_ENDPOINT": "https://graph.microsoft.com/v1.0",
    },
    # Marketo Engage REST API. With no BASE_URL nothing is queued for Marketo and everything else
    # works. The rate budget defaults to half of Marketo's instance limits, as Marketo advises.
    "MARKETO": {
        "BASE_URL": "",  # https://<munchkin-id>.mktorest.com
        "IDENTITY_URL": "",  # https://<munchkin-id>.mktorest.com/identity (default: BASE_URL)
        "CLIENT_ID": "",
        "CLIENT_SECRET": "",
        "MUNCHKIN_ID": "",
        "RATE_CALLS": 50,
        "RATE_WINDOW_SECONDS": 20,
        "MAX_CONCURRENT": 5,
        "BATCH_SIZE": 300,
        "TIMEOUT": 30,
    },
    # Seconds free/busy answers are cached: slot offers stay fast, bookings re-check anyway.
    "FREE_BUSY_CACHE_SECONDS": 60,
    # Transcript items kept per conversation (a flow that loops through questions could grow
    # without end); the oldest are dropped first.
    "MAX_TRANSCRIPT_ITEMS": 400,
}


class DynchatSettings:
    """Attribute access to ``WAGTAIL_DYNCHAT`` merged over :data:`DEFAULTS`."""

    def __init__(self):
        self._cached = None

    def _load(self):
        from django.conf import settings

        user = getattr(settings, "WAGTAIL_DYNCHAT", {}) or {}
        unknown = set(user) - set(DEFAULTS)
        if unknown:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "Unknown WAGTAIL_DYNCHAT setting(s): " + ", ".join(sorted(unknown))
            )
        merged = {**DEFAULTS, **user}
        # Provider dicts merge key by key, so a project sets only its client id and secret.
        for name, default in DEFAULTS.items():
            if isinstance(default, dict) and isinstance(user.get(name), dict):
                merged[name] = {**default, **user[name]}
        return merged

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._cached is None:
            self._cached = self._load()
        try:
            return self._cached[name]
        except KeyError:
            raise AttributeError(f"WAGTAIL_DYNCHAT has no setting {name!r}") from None

    def reload(self):
        """Forget the cached values; the next access reads the settings again."""
        self._cached = None


dynchat_settings = DynchatSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting, **kwargs):
    if setting == "WAGTAIL_DYNCHAT":
        dynchat_settings.reload()

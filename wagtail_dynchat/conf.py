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
        # Seconds before a visitor's Munchkin cookie (_mkto_trk) already looked up in Marketo is
        # looked up again (a lead may have become known since); a new cookie value is looked up
        # at once.
        # An activity or program status of a person who never becomes known (no lead id) waits
        # this long for an e-mail, then goes dead with the reason.
        "ACTIVITY_MAX_AGE_SECONDS": 7 * 24 * 60 * 60,
        "COOKIE_RECHECK_SECONDS": 24 * 60 * 60,
        "RATE_CALLS": 50,
        "RATE_WINDOW_SECONDS": 20,
        "MAX_CONCURRENT": 5,
        # REST calls per day of the subscription (Marketo's default is 50,000; it resets at
        # 00:00 US Central). The admin's sync page warns at 80 % of it.
        "DAILY_QUOTA": 50_000,
        "BATCH_SIZE": 300,
        "TIMEOUT": 30,
        # Seconds an outbox item may stay "sending" before the next drain takes it back (a worker
        # killed mid-call); must outlive the longest live send, retries and rate waits included.
        "LEASE_SECONDS": 10 * 60,
        # Initial sync (bulk lead extract): the first day of its createdAt windows (the day the
        # Marketo instance was created is enough), seconds between two status polls of one
        # export job (Marketo asks for at least 60), how long to wait when the export queue is
        # full (1029), how many export jobs to keep queued ahead of the one being loaded
        # (Marketo runs 2 at a time), bytes per file Range request and rows per database write.
        "SYNC_SINCE": "2010-01-01",
        "BULK_POLL_SECONDS": 60,
        "BULK_QUEUE_WAIT_SECONDS": 5 * 60,
        "BULK_JOBS_AHEAD": 2,
        "BULK_RANGE_BYTES": 8 * 1024 * 1024,
        "SYNC_CHUNK_ROWS": 5000,
        # Incremental sync: seconds of overlap with the previous run (late activities).
        "SYNC_OVERLAP_SECONDS": 5 * 60,
    },
    # Seconds free/busy answers are cached: slot offers stay fast, bookings re-check anyway.
    "FREE_BUSY_CACHE_SECONDS": 60,
    # Transcript items kept per conversation (a flow that loops through questions could grow
    # without end); the oldest are dropped first.
    "MAX_TRANSCRIPT_ITEMS": 400,
    # Retention (reports.retention, run daily by the purge_expired task). Days after which
    # conversation events and anonymous people who never engaged are purged (the product keeps
    # 90 days of event data) …
    "EVENT_RETENTION_DAYS": 90,
    # … daily rollups, which reports read, are deleted (24 months, the product's longest range) …
    "ROLLUP_RETENTION_DAYS": 730,
    # … and meetings, goal events and transcripts (conversations) are deleted (records outlive
    # other events: sales asks for them).
    "RECORD_RETENTION_DAYS": 730,
    # Rows deleted per purge transaction: short transactions keep locks and replication lag small.
    "PURGE_BATCH_SIZE": 20_000,
    # Seconds reports keep today's figures (computed from today's raw events) in the cache: the
    # dashboard and reports may show today up to this far behind. 0 computes them on every view.
    "REPORT_LIVE_CACHE_SECONDS": 60,
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

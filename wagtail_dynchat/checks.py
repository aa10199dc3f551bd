"""System checks for the misconfigurations that make the chat silently fail."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

REQUEST_PROCESSOR = "django.template.context_processors.request"


@register(Tags.templates)
def check_request_context_processor(app_configs, **kwargs):
    for engine in settings.TEMPLATES:
        if engine.get("BACKEND") != "django.template.backends.django.DjangoTemplates":
            continue
        if REQUEST_PROCESSOR not in engine.get("OPTIONS", {}).get("context_processors", []):
            return [
                Error(
                    "{% dynchat %} needs the request in the template context.",
                    hint=f"Add '{REQUEST_PROCESSOR}' to TEMPLATES' context_processors.",
                    id="wagtail_dynchat.E001",
                )
            ]
    return []


@register()
def check_settings(app_configs, **kwargs):
    from .conf import dynchat_settings

    dynchat_settings.reload()
    try:
        alias = dynchat_settings.CACHE_ALIAS
    except ImproperlyConfigured as error:
        return [Error(str(error), id="wagtail_dynchat.E002")]
    messages = []
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        messages.append(
            Error(
                f"WAGTAIL_DYNCHAT['CACHE_ALIAS'] names the cache {alias!r}, "
                "which is not in CACHES.",
                id="wagtail_dynchat.E003",
            )
        )
    elif caches[alias].get("BACKEND", "").endswith("DummyCache") and not settings.DEBUG:
        messages.append(
            Warning(
                "The cache used by wagtail-dynchat is a DummyCache: rate limits do not work "
                "and every page render recomputes targeting.",
                hint="Use Redis or Memcached in production.",
                id="wagtail_dynchat.W001",
            )
        )
    elif caches[alias].get("BACKEND", "").endswith("LocMemCache") and not settings.DEBUG:
        messages.append(
            Warning(
                "The cache used by wagtail-dynchat is local to each process: publishing a "
                "dialogue or switching the chat off reaches only the process that did it, and "
                "rate limits are counted per process.",
                hint="Use a shared cache such as Redis or Memcached in production.",
                id="wagtail_dynchat.W002",
            )
        )
    return messages


@register()
def check_calendar_encryption_key(app_configs, databases=None, **kwargs):
    """Calendar tokens are encrypted at rest: a site that connects calendars needs a valid
    Fernet key (or list of keys) in WAGTAIL_DYNCHAT['CALENDAR_ENCRYPTION_KEY']."""
    from .conf import dynchat_settings
    from .meetings import tokens

    try:
        tokens.check_key()
        return []
    except ImproperlyConfigured as error:
        problem = str(error)
    try:
        needs_key = [
            name
            for name in ("GOOGLE", "MICROSOFT")
            if (getattr(dynchat_settings, name) or {}).get("CLIENT_ID")
        ]
    except ImproperlyConfigured:
        return []  # reported by check_settings
    if not needs_key and databases:
        # Only when asked to look at databases (migrate, check --database): connections stored
        # earlier cannot be read without the key they were encrypted with.
        from django.db import DatabaseError

        from .models import CalendarConnection

        for alias in databases:
            try:
                if CalendarConnection.objects.using(alias).exists():
                    needs_key.append("stored calendar connections")
                    break
            except DatabaseError:  # not migrated yet
                continue
    if not needs_key:
        return []
    return [
        Error(
            problem,
            hint="Calendars are set up (" + ", ".join(needs_key) + ") but their tokens cannot "
            "be encrypted. Set WAGTAIL_DYNCHAT['CALENDAR_ENCRYPTION_KEY'] to a Fernet key, or "
            "to a list of keys to rotate them (the first one encrypts).",
            id="wagtail_dynchat.E010",
        )
    ]


@register()
def check_marketo(app_configs, **kwargs):
    """Marketo is optional, but a half-filled MARKETO setting would fail on the first sync."""
    from urllib.parse import urlsplit

    from .conf import dynchat_settings

    config = dynchat_settings.MARKETO
    base = (config.get("BASE_URL") or "").strip()
    if not base:
        return []
    messages = []
    parts = urlsplit(base)
    if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
        messages.append(
            Error(
                f"WAGTAIL_DYNCHAT['MARKETO']['BASE_URL'] is {base!r}; it must be the REST base "
                "address without a path, such as https://123-ABC-456.mktorest.com.",
                hint="Admin > Integrations > Web Services in Marketo shows it (drop '/rest').",
                id="wagtail_dynchat.E020",
            )
        )
    missing = [key for key in ("CLIENT_ID", "CLIENT_SECRET") if not config.get(key)]
    if missing:
        messages.append(
            Error(
                "WAGTAIL_DYNCHAT['MARKETO'] sets BASE_URL but not " + " and ".join(missing) + ".",
                hint="Create a LaunchPoint custom service in Marketo and read its credentials "
                "from the environment.",
                id="wagtail_dynchat.E021",
            )
        )
    for key in (
        "RATE_CALLS",
        "RATE_WINDOW_SECONDS",
        "MAX_CONCURRENT",
        "BATCH_SIZE",
        "DAILY_QUOTA",
    ):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            messages.append(
                Error(
                    f"WAGTAIL_DYNCHAT['MARKETO'][{key!r}] must be a positive whole number.",
                    id="wagtail_dynchat.E022",
                )
            )
    if isinstance(config.get("BATCH_SIZE"), int) and config["BATCH_SIZE"] > 300:
        messages.append(
            Error(
                "WAGTAIL_DYNCHAT['MARKETO']['BATCH_SIZE'] is over 300, the most records "
                "Marketo accepts in one call.",
                id="wagtail_dynchat.E023",
            )
        )
    calls, window = config.get("RATE_CALLS"), config.get("RATE_WINDOW_SECONDS")
    if isinstance(calls, int) and isinstance(window, int) and window and calls / window > 5:
        messages.append(
            Warning(
                "The Marketo rate budget is above Marketo's instance limit (100 calls per 20 "
                "seconds): workers would hit 606 errors.",
                hint="Keep to half of it (the default, 50 per 20 s), as Marketo advises.",
                id="wagtail_dynchat.W020",
            )
        )
    return messages

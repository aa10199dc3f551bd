"""What every calendar provider shares: the token bundle, the event spec and the error classes.

Providers are stateless modules of functions over a :class:`Tokens` bundle. They never touch
Django models: the caller loads the bundle (see ``meetings.tokens``), passes it in and stores it
back afterwards, because any call may refresh the access token. Calls update the bundle **in
place**; compare it with a copy taken before the call (``dataclasses.replace(tokens)``) or simply
store it again after every call.

Errors are mapped onto four classes so that Celery tasks can decide without knowing the
provider: :class:`ReauthRequired` (take the agent out of rotation, ask them to reconnect),
:class:`Throttled` and :class:`Transient` (retry after ``retry_after`` seconds or with backoff)
and plain :class:`ProviderError` (permanent: fix the request, do not retry).
"""

from __future__ import annotations

import datetime
import email.utils
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

#: Seconds before any single HTTP call to a provider gives up (connect and read).
TIMEOUT = 10
#: Seconds to wait when a throttled answer carries no usable ``Retry-After``.
DEFAULT_RETRY_AFTER = 30
#: An access token this close to its expiry is refreshed before use.
EXPIRY_MARGIN = datetime.timedelta(seconds=60)

UTC = datetime.UTC


@dataclass
class Tokens:
    """What the caller stores (encrypted) per calendar connection."""

    access_token: str
    refresh_token: str
    expires_at: datetime.datetime | None
    account: str  # the calendar owner's e-mail address
    cache: str = ""  # msal's serialised token cache (Microsoft); access/refresh are "" then

    def expired(self, now: datetime.datetime | None = None) -> bool:
        """True when the access token is missing or expires within :data:`EXPIRY_MARGIN`."""
        if not self.access_token:
            return True
        if self.expires_at is None:
            return False
        now = now or datetime.datetime.now(UTC)
        return aware(self.expires_at) - EXPIRY_MARGIN <= now


class ProviderError(Exception):
    """A provider answered with an error that retrying will not fix (or a base for the rest).

    ``status`` is the HTTP status (None when there was no answer), ``code`` the provider's own
    error code (``invalid_grant``, ``rateLimitExceeded``, ``ErrorItemNotFound``, …) and
    ``message`` a sentence for logs and admins.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"code={self.code!r}, retry_after={self.retry_after!r})"
        )


class ReauthRequired(ProviderError):
    """The connection is unusable until the agent signs in again (revoked or expired refresh
    token, ``invalid_grant``, a 401 that survived a refresh)."""


class Throttled(ProviderError):
    """429, or Google's 403 ``rateLimitExceeded``/``userRateLimitExceeded``/``quotaExceeded``:
    retry after ``retry_after`` seconds (from ``Retry-After``, else :data:`DEFAULT_RETRY_AFTER`)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(
            message,
            retry_after=DEFAULT_RETRY_AFTER if retry_after is None else retry_after,
            **kwargs,
        )


class Transient(ProviderError):
    """5xx, timeouts and connection failures: retry with backoff (``retry_after`` is set when the
    provider sent a ``Retry-After``, else None)."""


@dataclass
class EventSpec:
    """A meeting to write into the agent's calendar. ``start``/``end`` must be aware."""

    summary: str
    description: str
    start: datetime.datetime
    end: datetime.datetime
    attendees: list[str] = field(default_factory=list)
    online_meeting: bool = False
    time_zone: str = "UTC"  # the agent's IANA zone, used for how the event is displayed

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("EventSpec.start and .end must be timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError("EventSpec.end must be after .start")


@dataclass
class EventInfo:
    """An event as the provider stores it now (see ``get_event``)."""

    id: str
    status: str  # "confirmed" or "cancelled"
    start: datetime.datetime | None
    end: datetime.datetime | None
    join_url: str | None  # Google Meet / Teams link once the provider has created it
    web_link: str | None  # the event in the provider's calendar UI
    raw: dict = field(default_factory=dict, repr=False)


#: e-mail → busy intervals (UTC, end exclusive), or None when the provider could not tell for that
#: calendar (not shared, unknown, error). None must be treated as busy, never as free.
Busy = dict[str, list[tuple[datetime.datetime, datetime.datetime]] | None]


# --------------------------------------------------------------------------------------------
# Helpers shared by the provider modules


def aware(value: datetime.datetime) -> datetime.datetime:
    """``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(value: datetime.datetime) -> str:
    """``2026-03-02T10:00:00Z`` (UTC, whole seconds kept as they are)."""
    return aware(value).isoformat().replace("+00:00", "Z")


def parse_rfc3339(value: str) -> datetime.datetime:
    """Aware UTC datetime from RFC 3339 (``Z``, offsets and fractions up to 9 digits)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _trim_fraction(text)
    parsed = datetime.datetime.fromisoformat(text)
    return aware(parsed)


def _trim_fraction(text: str) -> str:
    # Python's fromisoformat accepts at most 6 fractional digits; Graph sends 7.
    if "." not in text:
        return text
    head, _, tail = text.partition(".")
    digits = ""
    for char in tail:
        if not char.isdigit():
            break
        digits += char
    rest = tail[len(digits) :]
    return f"{head}.{digits[:6]}{rest}" if digits else head + rest


def parse_retry_after(value: str | None, default: float | None = DEFAULT_RETRY_AFTER):
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, (aware(when) - datetime.datetime.now(UTC)).total_seconds())


def unique(emails: Iterable[str]) -> list[str]:
    """The e-mails in order without duplicates (compared case-insensitively)."""
    seen, result = set(), []
    for address in emails:
        key = address.strip().lower()
        if key and key not in seen:
            seen.add(key)
            result.append(address.strip())
    return result


def chunks(items: list, size: int) -> Iterator[list]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def merge_intervals(intervals):
    """Sorted, overlapping/adjacent intervals merged."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def redirect_parameters(query, flow, provider):
    """The provider's redirect parameters (a QueryDict or parse_qs lists: one value each), once
    the agent agreed and the state matches the session's flow; else :class:`ProviderError`
    with ``code`` ``access_denied``, the provider's error, or ``state_mismatch``."""
    params = {}
    for key in query:
        value = query[key]
        if isinstance(value, list | tuple):
            value = value[-1] if value else ""
        params[key] = value
    if params.get("error"):
        error = params["error"]
        detail = params.get("error_description", "")
        raise ProviderError(
            f"{provider} sign-in was cancelled: the calendar was not connected."
            if error == "access_denied"
            else f"{provider} sign-in failed: {error}" + (f" ({detail})" if detail else "") + ".",
            code=error,
        )
    expected = str((flow or {}).get("state") or "")
    if not expected or not hmac.compare_digest(expected, str(params.get("state") or "")):
        raise ProviderError(
            "The sign-in answer does not belong to this session (state mismatch); "
            "please start connecting the calendar again.",
            code="state_mismatch",
        )
    return params

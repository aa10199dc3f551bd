"""Outlook calendars through msal (sign-in, tokens) and Microsoft Graph v1.0 (``requests``).

Settings: ``WAGTAIL_DYNCHAT["MICROSOFT"]`` — ``CLIENT_ID``, ``CLIENT_SECRET``, ``AUTHORITY``
(``https://login.microsoftonline.com/<tenant id|organizations>``; getSchedule does not work for
personal Microsoft accounts, so avoid ``common``/``consumers``) and ``GRAPH_ENDPOINT``.
An authority on a host msal does not know (a sovereign proxy, the test fake) is used without
instance discovery or authority validation. msal insists on ``https`` authorities; requests
trusts the CAs in ``REQUESTS_CA_BUNDLE`` when it is set.

The token bundle keeps msal's serialised token cache in ``Tokens.cache``
(``access_token``/``refresh_token`` stay ""). Every call asks msal for a token silently (cached
or refreshed); a 401 from Graph forces one refresh and one retry. Graph calls never retry by
themselves: 429/5xx surface as :class:`~.base.Throttled`/:class:`~.base.Transient` carrying
``Retry-After``.
"""

from __future__ import annotations

import contextlib
import datetime
import warnings
import zoneinfo
from urllib.parse import quote, urlparse

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from msal.exceptions import MsalServiceError

from ...conf import dynchat_settings
from .base import (
    TIMEOUT,
    UTC,
    Busy,
    EventInfo,
    EventSpec,
    ProviderError,
    ReauthRequired,
    Throttled,
    Tokens,
    Transient,
    aware,
    chunks,
    merge_intervals,
    parse_retry_after,
    redirect_parameters,
    unique,
)

NAME = "microsoft"

#: msal adds openid, profile and offline_access itself (and refuses them here).
SCOPES = [
    "https://graph.microsoft.com/Calendars.ReadWrite",
    "https://graph.microsoft.com/User.Read",
]
#: ``getSchedule`` takes at most 20 schedules per call: n e-mails cost ceil(n / 20) calls.
SCHEDULES_PER_CALL = 20
#: ``getSchedule`` windows must be shorter than 62 days; longer ranges are split.
MAX_SCHEDULE_WINDOW = datetime.timedelta(days=61)
#: scheduleItems with this status leave the slot free; every other status
#: (busy, tentative, oof, workingElsewhere, unknown) counts as busy.
FREE_STATUSES = {"free"}
#: msal answers that mean "sign in again" rather than "try later".
REAUTH_ERRORS = {"invalid_grant", "interaction_required", "consent_required", "login_required"}
TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error", "service_unavailable"}

# OIDC discovery is fetched once per process and authority (integrations.md §4.1).
_HTTP_CACHE: dict = {}


def _config():
    return dynchat_settings.MICROSOFT


def _graph_url(path):
    return _config()["GRAPH_ENDPOINT"].rstrip("/") + path


def _app(cache):
    config = _config()
    authority = config["AUTHORITY"].rstrip("/")
    extra = {}
    if (urlparse(authority).hostname or "") not in WELL_KNOWN_AUTHORITY_HOSTS:
        extra = {"instance_discovery": False, "validate_authority": False}
    try:
        return msal.ConfidentialClientApplication(
            config["CLIENT_ID"],
            client_credential=config["CLIENT_SECRET"],
            authority=authority,
            token_cache=cache,
            http_cache=_HTTP_CACHE,
            timeout=TIMEOUT,
            **extra,
        )
    except (requests.RequestException, MsalServiceError, RuntimeError) as error:
        raise Transient(f"Microsoft's sign-in service did not answer: {error}") from error
    except ValueError as error:
        raise ProviderError(
            f"The Microsoft authority is not usable: {error}", code="bad_authority"
        ) from error


@contextlib.contextmanager
def _application(cache):
    app = _app(cache)
    try:
        yield app
    finally:
        app.http_client.close()  # msal's requests.Session


# --------------------------------------------------------------------------------------------
# OAuth


def authorization_url(
    redirect_uri: str, state: str, *, response_mode: str = "query"
) -> tuple[str, dict]:
    """The Microsoft sign-in URL and msal's flow dict (state, nonce, PKCE verifier…) to keep in
    the session until :func:`finish`.

    ``response_mode="query"`` (default) makes Microsoft redirect back with a GET, which carries
    Django's ``SameSite=Lax`` session cookie; ``"form_post"`` (msal's recommendation) POSTs the
    answer instead and needs a csrf-exempt view whose session cookie survives a cross-site POST.
    """
    with _application(msal.SerializableTokenCache()) as app, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="response_mode='form_post' is recommended", category=UserWarning
        )
        flow = app.initiate_auth_code_flow(
            SCOPES,
            redirect_uri=redirect_uri,
            state=state,
            response_mode=response_mode,
            prompt="select_account",
        )
    return flow["auth_uri"], flow


def finish(redirect_uri: str, flow: dict, query: dict) -> Tokens:
    """Redeem the code of Microsoft's redirect (``query`` = its GET or POST parameters).

    Raises :class:`ProviderError` when the agent declined (``code="access_denied"``), when the
    state does not match the session's (``code="state_mismatch"``) or when Microsoft refuses
    the code (``invalid_grant``: expired, already used, PKCE mismatch).
    """
    query = redirect_parameters(query, flow, "Microsoft")
    if flow.get("redirect_uri") and flow["redirect_uri"] != redirect_uri:
        raise ProviderError(
            "The sign-in was started for another redirect URI.", code="redirect_uri_mismatch"
        )
    cache = msal.SerializableTokenCache()
    try:
        with _application(cache) as app:
            result = app.acquire_token_by_auth_code_flow(dict(flow), query)
    except ValueError as error:
        raise ProviderError(f"Microsoft sign-in failed: {error}", code="invalid_flow") from error
    except (requests.RequestException, MsalServiceError) as error:
        raise Transient(f"Microsoft's token endpoint did not answer: {error}") from error
    if "error" in result:
        raise _token_error(result, during_sign_in=True)
    claims = result.get("id_token_claims") or {}
    account = claims.get("preferred_username") or claims.get("email")
    if not account:
        account = _me(result["access_token"])
    return Tokens(
        access_token="",
        refresh_token="",
        expires_at=_expiry(result),
        account=account,
        cache=cache.serialize(),
    )


def refresh(tokens: Tokens, *, force: bool = False) -> Tokens:
    """Make sure the cache holds a usable access token (refreshing it when expired or when
    ``force`` is set). Updates and returns ``tokens``; :class:`ReauthRequired` when revoked."""
    _access_token(tokens, force_refresh=force)
    return tokens


def revoke(tokens: Tokens) -> None:
    """Forget the connection. Entra ID has no endpoint to revoke one refresh token (only all
    of a user's sessions), so this only empties the cache: delete the stored bundle."""
    tokens.cache = ""


# --------------------------------------------------------------------------------------------
# Calendar


def free_busy(
    tokens: Tokens, emails: list[str], start: datetime.datetime, end: datetime.datetime
) -> Busy:
    """Busy intervals per e-mail from ``POST /me/calendar/getSchedule``.

    Graph takes at most 20 schedules per call, so n e-mails cost ceil(n / 20) calls (and
    windows of 62 days or more are split). A schedule Graph answers with an ``error`` (unknown
    mailbox, no free/busy access) maps to None.
    """
    emails = unique(emails)
    windows = _windows(aware(start), aware(end))
    busy: dict[str, list | None] = {}
    for group in chunks(emails, SCHEDULES_PER_CALL):
        for window_start, window_end in windows:
            body = {
                "schedules": group,
                "startTime": _graph_time(window_start),
                "endTime": _graph_time(window_end),
                "availabilityViewInterval": 60,
            }
            data = _checked(
                _graph(
                    tokens,
                    "POST",
                    "/me/calendar/getSchedule",
                    json=body,
                    headers={"Prefer": 'outlook.timezone="UTC"'},
                )
            )
            answers = {
                (item.get("scheduleId") or "").lower(): item for item in data.get("value") or []
            }
            for address in group:
                answer = answers.get(address.lower())
                if answer is None or answer.get("error") or busy.get(address, []) is None:
                    busy[address] = None
                    continue
                intervals = busy.setdefault(address, [])
                for item in answer.get("scheduleItems") or []:
                    if str(item.get("status", "")).lower() in FREE_STATUSES:
                        continue
                    intervals.append(
                        (_parse_graph_time(item["start"]), _parse_graph_time(item["end"]))
                    )
    return {
        address: None if busy.get(address) is None else merge_intervals(busy[address])
        for address in emails
    }


def create_event(tokens: Tokens, calendar_id: str, spec: EventSpec, key: str) -> str:
    """Create the event (Outlook invites the attendees) and return its Graph id.

    Idempotent: ``transactionId=key`` makes Graph answer a retried POST with the event it
    already created. With ``spec.online_meeting`` a Teams meeting is attached. ``calendar_id``
    None/""/"primary" is the default calendar, else a Graph calendar id of the mailbox.
    """
    body = {**_event_body(spec), "transactionId": key}
    if spec.online_meeting:
        body["isOnlineMeeting"] = True
        body["onlineMeetingProvider"] = "teamsForBusiness"
    data = _checked(_graph(tokens, "POST", _events_path(calendar_id), json=body))
    return data["id"]


def update_event(tokens: Tokens, calendar_id: str, event_id: str, spec: EventSpec) -> None:
    """Reschedule/re-describe the event (attendees get the update). The Teams meeting stays."""
    body = _event_body(spec)
    if spec.online_meeting:
        body["isOnlineMeeting"] = True
    _checked(_graph(tokens, "PATCH", f"/me/events/{quote(event_id, safe='')}", json=body))


def cancel_event(tokens: Tokens, calendar_id: str, event_id: str) -> None:
    """Delete the event (the organizer's delete sends the attendees a cancellation); an event
    that is already gone (404/410) is success."""
    response = _graph(tokens, "DELETE", f"/me/events/{quote(event_id, safe='')}")
    if response.status_code in (404, 410):
        return
    _checked(response)


def get_event(tokens: Tokens, calendar_id: str, event_id: str) -> EventInfo:
    """The event as Graph has it now, with the Teams join URL."""
    event = _checked(_graph(tokens, "GET", f"/me/events/{quote(event_id, safe='')}"))
    return EventInfo(
        id=event["id"],
        status="cancelled" if event.get("isCancelled") else "confirmed",
        start=_parse_graph_time(event["start"]) if event.get("start") else None,
        end=_parse_graph_time(event["end"]) if event.get("end") else None,
        join_url=(event.get("onlineMeeting") or {}).get("joinUrl"),
        web_link=event.get("webLink"),
        raw=event,
    )


# --------------------------------------------------------------------------------------------
# Internals


def _access_token(tokens, force_refresh=False):
    cache = msal.SerializableTokenCache()
    if tokens.cache:
        cache.deserialize(tokens.cache)
    with _application(cache) as app:
        accounts = app.get_accounts(username=tokens.account) if tokens.account else []
        accounts = accounts or app.get_accounts()
        if not accounts:
            raise ReauthRequired(
                "The Microsoft connection holds no signed-in account.", code="no_account"
            )
        try:
            result = app.acquire_token_silent_with_error(
                SCOPES, account=accounts[0], force_refresh=force_refresh
            )
        except (requests.RequestException, MsalServiceError) as error:
            # MsalServiceError: msal raises it for 5xx answers of the token endpoint.
            raise Transient(f"Microsoft's token endpoint did not answer: {error}") from error
    if result is None:
        raise ReauthRequired("msal found no usable token for this account.", code="no_token")
    if "error" in result:
        raise _token_error(result)
    if cache.has_state_changed:
        tokens.cache = cache.serialize()
    tokens.expires_at = _expiry(result)
    return result["access_token"]


def _token_error(result, during_sign_in=False):
    code = result.get("error")
    message = f"Microsoft refused the token request: {code} ({result.get('error_description', '')})"
    if code in TRANSIENT_ERRORS:
        return Transient(message, code=code)
    if during_sign_in:
        return ProviderError(message, code=code)
    if code in REAUTH_ERRORS or code in ("invalid_client", "unauthorized_client"):
        return ReauthRequired(message, code=code)
    return ProviderError(message, code=code)


def _graph(tokens, method, path, *, json=None, headers=None):
    token = _access_token(tokens)
    for attempt in (1, 2):
        try:
            response = requests.request(
                method,
                _graph_url(path),
                json=json,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json",
                    **(headers or {}),
                },
                timeout=TIMEOUT,
            )
        except requests.RequestException as error:
            raise Transient(f"Microsoft Graph did not answer: {error}") from error
        if response.status_code == 401 and attempt == 1:
            token = _access_token(tokens, force_refresh=True)
            continue
        return response
    raise AssertionError("unreachable")


def _checked(response):
    if response.status_code < 400:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError as error:
            raise Transient("Microsoft Graph answered malformed JSON.") from error
    try:
        error = (response.json() or {}).get("error") or {}
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {"code": str(error)}
    status = response.status_code
    code = error.get("code")
    message = f"Microsoft Graph answered {status}: {code or ''} {error.get('message', '')}".strip()
    retry_after = parse_retry_after(response.headers.get("Retry-After"), default=None)
    if status == 401:
        raise ReauthRequired(message, status=status, code=code)
    if status == 429:
        raise Throttled(message, status=status, code=code, retry_after=retry_after)
    if status >= 500:
        raise Transient(message, status=status, code=code, retry_after=retry_after)
    raise ProviderError(message, status=status, code=code)


def _me(access_token):
    try:
        response = requests.get(
            _graph_url("/me"),
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=TIMEOUT,
        )
    except requests.RequestException as error:
        raise Transient(f"Microsoft Graph did not answer: {error}") from error
    data = _checked(response)
    account = data.get("mail") or data.get("userPrincipalName")
    if not account:
        raise ProviderError("Microsoft did not tell which account signed in.", code="no_account")
    return account


def _windows(start, end):
    windows = []
    while start < end:
        stop = min(end, start + MAX_SCHEDULE_WINDOW)
        windows.append((start, stop))
        start = stop
    return windows or [(start, end)]


def _graph_time(value):
    return {"dateTime": aware(value).replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def _parse_graph_time(value):
    text = value["dateTime"]
    if "." in text:  # Graph sends 7 fractional digits
        head, _, fraction = text.partition(".")
        text = f"{head}.{fraction[:6]}"
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        return aware(parsed)
    zone = value.get("timeZone") or "UTC"
    if zone in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ProviderError(f"Graph answered an unknown time zone {zone!r}.") from error


def _event_body(spec: EventSpec) -> dict:
    return {
        "subject": spec.summary,
        "body": {"contentType": "text", "content": spec.description},
        "start": _graph_time(spec.start),
        "end": _graph_time(spec.end),
        "attendees": [
            {"emailAddress": {"address": address}, "type": "required"}
            for address in unique(spec.attendees)
        ],
    }


def _events_path(calendar_id):
    if not calendar_id or calendar_id == "primary":
        return "/me/events"
    return f"/me/calendars/{quote(calendar_id, safe='')}/events"


def _expiry(result):
    if result.get("expires_in"):
        return datetime.datetime.now(UTC) + datetime.timedelta(seconds=int(result["expires_in"]))
    return None

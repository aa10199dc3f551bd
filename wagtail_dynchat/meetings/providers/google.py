"""Google Calendar v3 through google-api-python-client, google-auth and google-auth-oauthlib.

Endpoints come from ``WAGTAIL_DYNCHAT["GOOGLE"]``: ``AUTH_URI``/``TOKEN_URI``/``REVOKE_URI`` for
OAuth and ``API_ENDPOINT`` (the ``https://www.googleapis.com`` host) for Calendar
(``{API_ENDPOINT}/calendar/v3/``, passed as the client's ``api_endpoint`` with the discovery
document shipped in the wheel, so nothing is discovered at run time) and userinfo.

Retries are the caller's (Celery's) business: requests run with ``num_retries=0``, the token
endpoint with ``can_retry=False``, and a 401 is answered here by exactly one refresh and one
retry. Every HTTP call has a :data:`~.base.TIMEOUT` second timeout.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
from urllib.parse import urlencode

import google_auth_httplib2
import httplib2
from google.auth import exceptions as google_auth_exceptions
from google.oauth2 import _client as oauth2_client
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient import discovery
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

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
    parse_rfc3339,
    redirect_parameters,
    rfc3339,
    unique,
)

NAME = "google"

CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_FREEBUSY = "https://www.googleapis.com/auth/calendar.freebusy"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
#: Least privilege (integrations.md §3.1): write events, read free/busy, know who signed in.
#: ``userinfo.email`` is the spelling Google answers for ``email``, so requesting it avoids a
#: "scope has changed" error from oauthlib.
SCOPES = ["openid", USERINFO_EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY]
#: Scopes that also allow freebusy.query, should the agent have granted a broader one.
FREEBUSY_SCOPES = {
    CALENDAR_FREEBUSY,
    "https://www.googleapis.com/auth/calendar.events.freebusy",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar",
}
EVENTS_SCOPES = {CALENDAR_EVENTS, "https://www.googleapis.com/auth/calendar"}
ISSUERS = {"https://accounts.google.com", "accounts.google.com"}

#: ``freebusy.query`` answers at most this many calendars per call (``calendarExpansionMax``
#: ≤ 50); more e-mails are split into ceil(n / 50) calls.
FREEBUSY_MAX_CALENDARS = 50
#: Reasons of a 403 that mean "slow down" rather than "forbidden".
THROTTLE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
#: Token endpoint answers worth retrying (``missing_token``: an HTML error page, not JSON).
OAUTH_TRANSIENT_ERRORS = {
    "temporarily_unavailable",
    "server_error",
    "internal_failure",
    "missing_token",
}
#: ``quotaExceeded`` is the daily "Calendar usage limits exceeded": back off for an hour.
QUOTA_RETRY_AFTER = 3600


def _config():
    return dynchat_settings.GOOGLE


def _api_endpoint():
    return _config()["API_ENDPOINT"].rstrip("/")


# --------------------------------------------------------------------------------------------
# OAuth


def _client_config(redirect_uri):
    config = _config()
    return {
        "web": {
            "client_id": config["CLIENT_ID"],
            "client_secret": config["CLIENT_SECRET"],
            "auth_uri": config["AUTH_URI"],
            "token_uri": config["TOKEN_URI"],
            "redirect_uris": [redirect_uri],
        }
    }


def authorization_url(redirect_uri: str, state: str) -> tuple[str, dict]:
    """The Google sign-in URL and the flow data to keep in the session until :func:`finish`.

    Offline access with a forced consent screen (so Google always issues a refresh token),
    incremental scopes and PKCE (S256; the verifier is part of the returned flow data).
    """
    flow = Flow.from_client_config(_client_config(redirect_uri), scopes=SCOPES)
    flow.redirect_uri = redirect_uri
    url, state = flow.authorization_url(
        state=state,
        access_type="offline",
        prompt="consent",
        include_granted_scopes="true",
    )
    return url, {
        "state": state,
        "code_verifier": flow.code_verifier,
        "redirect_uri": redirect_uri,
    }


def finish(redirect_uri: str, flow: dict, query: dict) -> Tokens:
    """Exchange the code of Google's redirect (``query`` = its query parameters) for tokens.

    Raises :class:`ProviderError` when the agent declined (``code="access_denied"``), when the
    state does not match the session's (``code="state_mismatch"``), when Google refuses the code
    or when the agent unticked a calendar permission (``code="insufficient_scope"``).
    """
    query = redirect_parameters(query, flow, "Google")
    expected = flow["state"]
    if not query.get("code"):
        raise ProviderError("Google's answer carries no authorization code.", code="no_code")

    oauth_flow = Flow.from_client_config(
        _client_config(redirect_uri),
        scopes=SCOPES,
        state=expected,
        code_verifier=flow.get("code_verifier"),
        autogenerate_code_verifier=False,
    )
    oauth_flow.redirect_uri = redirect_uri
    try:
        token = oauth_flow.fetch_token(code=query["code"], timeout=TIMEOUT)
    except Warning as warning:
        # include_granted_scopes=true may grant more scopes than requested: oauthlib then
        # raises ``Warning("Scope has changed …")`` carrying the token it parsed.
        token = getattr(warning, "token", None)
        if token is None:
            raise ProviderError(f"Google sign-in failed: {warning}") from warning
    except OAuth2Error as error:
        raise _oauth_error(error) from error
    except OSError as error:  # requests' ConnectionError/Timeout derive from OSError
        raise Transient(f"Google's token endpoint did not answer: {error}") from error

    granted = _scope_set(token.get("scope"))
    if granted and (not granted & EVENTS_SCOPES or not granted & FREEBUSY_SCOPES):
        raise ProviderError(
            "The calendar permissions were not granted; please connect again and allow "
            "access to the calendar.",
            code="insufficient_scope",
        )
    if not token.get("refresh_token"):
        raise ProviderError(
            "Google issued no refresh token; please connect the calendar again.",
            code="no_refresh_token",
        )
    tokens = Tokens(
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        expires_at=_expiry(token),
        account="",
    )
    tokens.account = _account_email(token.get("id_token"), tokens)
    return tokens


def refresh(tokens: Tokens, *, force: bool = False) -> Tokens:
    """Refresh the access token when it is missing, (nearly) expired or ``force`` is set.

    Updates and returns ``tokens``; raises :class:`ReauthRequired` when Google refuses the
    refresh token (revoked, expired, ``invalid_grant``).
    """
    if not force and not tokens.expired():
        return tokens
    if not tokens.refresh_token:
        raise ReauthRequired("The Google connection has no refresh token.", code="no_refresh_token")
    config = _config()
    http = httplib2.Http(timeout=TIMEOUT)
    try:
        access_token, refresh_token, expiry, _ = oauth2_client.refresh_grant(
            google_auth_httplib2.Request(http),
            config["TOKEN_URI"],
            tokens.refresh_token,
            config["CLIENT_ID"],
            config["CLIENT_SECRET"],
            can_retry=False,
        )
    except google_auth_exceptions.RefreshError as error:
        raise _refresh_error(error) from error
    except google_auth_exceptions.TransportError as error:
        raise Transient(f"Google's token endpoint did not answer: {error}") from error
    finally:
        http.close()
    tokens.access_token = access_token
    tokens.refresh_token = refresh_token or tokens.refresh_token  # Google omits it on refresh
    tokens.expires_at = aware(expiry) if expiry else None
    return tokens


def revoke(tokens: Tokens) -> None:
    """Revoke the grant at Google (disconnect). Already revoked tokens count as success."""
    token = tokens.refresh_token or tokens.access_token
    if not token:
        return
    http = httplib2.Http(timeout=TIMEOUT)
    try:
        response, content = http.request(
            _config()["REVOKE_URI"],
            "POST",
            body=urlencode({"token": token}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    except (OSError, httplib2.HttpLib2Error) as error:
        raise Transient(f"Google's revoke endpoint did not answer: {error}") from error
    finally:
        http.close()
    if response.status == 200:
        return
    data = _json(content)
    if response.status == 400 and data.get("error") in ("invalid_token", "invalid_grant"):
        return
    if response.status >= 500:
        raise Transient("Google could not revoke the token.", status=response.status)
    raise ProviderError(
        f"Google refused to revoke the token: {data.get('error') or response.status}",
        status=response.status,
        code=data.get("error"),
    )


# --------------------------------------------------------------------------------------------
# Calendar


def free_busy(
    tokens: Tokens, emails: list[str], start: datetime.datetime, end: datetime.datetime
) -> Busy:
    """Busy intervals of every calendar in ``emails`` in ONE ``freeBusy.query`` (ceil(n/50) for
    more than 50 calendars). A calendar Google reports an error for (not shared with the
    connected account, unknown, …) maps to None."""
    emails = unique(emails)
    result: Busy = {}
    for group in chunks(emails, FREEBUSY_MAX_CALENDARS):
        body = {
            "timeMin": rfc3339(start),
            "timeMax": rfc3339(end),
            "timeZone": "UTC",
            "items": [{"id": address} for address in group],
        }
        answer = _execute(tokens, lambda service, body=body: service.freebusy().query(body=body))
        calendars = {key.lower(): value for key, value in (answer.get("calendars") or {}).items()}
        for address in group:
            calendar = calendars.get(address.lower())
            if calendar is None or calendar.get("errors"):
                result[address] = None
                continue
            result[address] = merge_intervals(
                (parse_rfc3339(item["start"]), parse_rfc3339(item["end"]))
                for item in calendar.get("busy") or []
            )
    return result


def event_id_for(key: str) -> str:
    """Our Google event id for an idempotency key: base32hex (``a-v0-9``) of its SHA-256,
    52 characters, valid per Calendar's ``Event.id`` rules (5 to 1024 chars)."""
    digest = hashlib.sha256(key.encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def create_event(tokens: Tokens, calendar_id: str, spec: EventSpec, key: str) -> str:
    """Insert the event with our own id derived from ``key`` and invite the attendees.

    Idempotent: a retry with the same key meets Google's 409 "duplicate" and counts as success
    (note that Google keeps ids of deleted events, so a cancelled booking's key cannot be
    booked again). With ``spec.online_meeting`` a Google Meet conference is requested; Google
    creates it asynchronously (see :func:`get_event` for the link).
    """
    event_id = event_id_for(key)
    body = {"id": event_id, **_event_body(spec)}
    if spec.online_meeting:
        body["conferenceData"] = {
            "createRequest": {
                "requestId": event_id,  # stable: a retried insert asks for the same conference
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        }
    try:
        answer = _execute(
            tokens,
            lambda service: service.events().insert(
                calendarId=calendar_id or "primary",
                body=body,
                conferenceDataVersion=1,
                sendUpdates="all",
            ),
        )
    except ProviderError as error:
        if error.status == 409:
            return event_id
        raise
    return answer.get("id") or event_id


def update_event(tokens: Tokens, calendar_id: str, event_id: str, spec: EventSpec) -> None:
    """Reschedule/re-describe the event (PATCH; attendees are told). The conference is kept."""
    _execute(
        tokens,
        lambda service: service.events().patch(
            calendarId=calendar_id or "primary",
            eventId=event_id,
            body=_event_body(spec),
            conferenceDataVersion=1,
            sendUpdates="all",
        ),
    )


def cancel_event(tokens: Tokens, calendar_id: str, event_id: str) -> None:
    """Delete the event and notify the attendees; an event that is already gone (404/410) is
    success."""
    try:
        _execute(
            tokens,
            lambda service: service.events().delete(
                calendarId=calendar_id or "primary", eventId=event_id, sendUpdates="all"
            ),
        )
    except ProviderError as error:
        if error.status in (404, 410):
            return
        raise


def get_event(tokens: Tokens, calendar_id: str, event_id: str) -> EventInfo:
    """The event as Google has it now, with the Meet link once the conference exists."""
    event = _execute(
        tokens,
        lambda service: service.events().get(calendarId=calendar_id or "primary", eventId=event_id),
    )
    join_url = None
    for entry in (event.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            join_url = entry["uri"]
            break
    return EventInfo(
        id=event["id"],
        status=event.get("status", "confirmed"),
        start=_event_time(event.get("start")),
        end=_event_time(event.get("end")),
        join_url=join_url or event.get("hangoutLink"),
        web_link=event.get("htmlLink"),
        raw=event,
    )


# --------------------------------------------------------------------------------------------
# Internals


@functools.cache
def _discovery_document():
    # The JSON text, parsed per service: build_from_document() adjusts the parsed document in
    # place, which must not happen to a dict shared between threads.
    return get_static_doc("calendar", "v3")


def _service(access_token, http):
    authorized = google_auth_httplib2.AuthorizedHttp(
        Credentials(token=access_token),
        http=http,
        max_refresh_attempts=0,  # 401s are handled in _execute: one refresh, one retry
    )
    return discovery.build_from_document(
        _discovery_document(),
        http=authorized,
        client_options={"api_endpoint": f"{_api_endpoint()}/calendar/v3/"},
    )


def _execute(tokens, make_request):
    refresh(tokens)
    for attempt in (1, 2):
        http = httplib2.Http(timeout=TIMEOUT)
        try:
            return make_request(_service(tokens.access_token, http)).execute(num_retries=0)
        except HttpError as error:
            if error.status_code == 401 and attempt == 1:
                http.close()
                refresh(tokens, force=True)
                continue
            raise _http_error(error) from error
        except (OSError, httplib2.HttpLib2Error) as error:
            raise Transient(f"Google Calendar did not answer: {error}") from error
        finally:
            http.close()
    raise AssertionError("unreachable")


def _http_error(error: HttpError) -> ProviderError:
    status = error.status_code
    details = error.error_details if isinstance(error.error_details, list) else []
    reason = next((d.get("reason") for d in details if isinstance(d, dict)), None)
    message = f"Google Calendar answered {status}: {error.reason or reason or 'error'}"
    if status == 401:
        return ReauthRequired(message, status=status, code=reason or "authError")
    retry_after = parse_retry_after(error.resp.get("retry-after"), default=None)
    if status == 429 or (status == 403 and reason in THROTTLE_REASONS):
        if reason == "quotaExceeded" and retry_after is None:
            retry_after = QUOTA_RETRY_AFTER
        return Throttled(message, status=status, code=reason, retry_after=retry_after)
    if status >= 500:
        return Transient(message, status=status, code=reason, retry_after=retry_after)
    return ProviderError(message, status=status, code=reason)


def _refresh_error(error):
    data = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    code = data.get("error")
    message = f"Google refused the refresh token: {error.args[0] if error.args else error}"
    if getattr(error, "retryable", False):
        return Transient(message, code=code)
    if code in ("invalid_grant", "unauthorized_client", "invalid_client") or code is None:
        return ReauthRequired(message, code=code or "invalid_grant")
    return ProviderError(message, code=code)


def _oauth_error(error: OAuth2Error) -> ProviderError:
    code = error.error
    status = getattr(error, "status_code", None)
    message = f"Google refused the sign-in: {code}" + (
        f" ({error.description})" if error.description else ""
    )
    if (status and status >= 500) or code in OAUTH_TRANSIENT_ERRORS:
        return Transient(message, status=status, code=code)
    return ProviderError(message, status=status, code=code)


def _account_email(id_token, tokens):
    claims = _jwt_claims(id_token) if id_token else {}
    if (
        claims.get("email")
        and claims.get("email_verified", True) in (True, "true")
        and claims.get("iss") in ISSUERS
        and claims.get("aud") == _config()["CLIENT_ID"]
    ):
        # Straight from the token endpoint over TLS, so the signature need not be checked
        # (OpenID Connect Core §3.1.3.7).
        return claims["email"]
    http = httplib2.Http(timeout=TIMEOUT)
    try:
        response, content = http.request(
            f"{_api_endpoint()}/oauth2/v3/userinfo",
            "GET",
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        )
    except (OSError, httplib2.HttpLib2Error) as error:
        raise Transient(f"Google's userinfo endpoint did not answer: {error}") from error
    finally:
        http.close()
    data = _json(content)
    if response.status != 200 or not data.get("email"):
        raise ProviderError(
            "Google did not tell which account signed in.", status=response.status, code="userinfo"
        )
    return data["email"]


def _jwt_claims(token):
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def _json(content):
    try:
        data = json.loads(content or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _scope_set(scope):
    if not scope:
        return set()
    if isinstance(scope, str):
        return set(scope.split())
    return set(scope)


def _expiry(token):
    if token.get("expires_at"):
        return datetime.datetime.fromtimestamp(float(token["expires_at"]), tz=UTC)
    if token.get("expires_in"):
        return datetime.datetime.now(UTC) + datetime.timedelta(seconds=int(token["expires_in"]))
    return None


def _event_body(spec: EventSpec) -> dict:
    return {
        "summary": spec.summary,
        "description": spec.description,
        "start": {"dateTime": rfc3339(spec.start), "timeZone": spec.time_zone or "UTC"},
        "end": {"dateTime": rfc3339(spec.end), "timeZone": spec.time_zone or "UTC"},
        "attendees": [{"email": address} for address in unique(spec.attendees)],
    }


def _event_time(value):
    if value and value.get("dateTime"):
        return parse_rfc3339(value["dateTime"])
    return None

"""A stateful fake of Google's OAuth 2.0 server and Calendar API v3 on loopback (plain HTTP).

Wire formats follow integrations.md §3 and §5.2 (Calendar discovery document, error guide):
``POST /token`` (authorization_code with PKCE, refresh_token → JSON without ``refresh_token``,
``invalid_grant`` 400 for revoked tokens, ``client_secret_basic`` or body credentials),
``POST /revoke``, ``GET /o/oauth2/auth`` (a browser's consent screen: redirects at once for
:attr:`FakeGoogle.default_user`), ``GET /oauth2/v3/userinfo``, and under ``/calendar/v3``:
``POST /freeBusy`` (per-calendar ``errors`` inside a 200, ``tooManyCalendarsRequested`` past 50
calendars, 400 ``timeRangeEmpty``), ``POST|GET /calendars/{id}/events``, ``GET|PATCH|PUT|DELETE
/calendars/{id}/events/{eventId}`` (409 ``duplicate`` for a client-supplied id that exists, 204
then 410 ``deleted`` on delete, conference ``createRequest`` answered ``pending`` and
``success`` on a later GET, ``conferenceData`` ignored without ``conferenceDataVersion=1``),
401 ``authError`` for unknown/expired/revoked tokens and 403 ``insufficientPermissions`` when a
token lacks the scope.

Test API (all thread-safe)::

    fake = FakeGoogle().start()            # or the ``google_fake`` fixture
    fake.settings()                        # WAGTAIL_DYNCHAT["GOOGLE"] pointing here
    fake.sign_in(auth_url, "ann@example.com")   # → {"state", "code", "scope", …} redirect params
    fake.sign_in(auth_url, deny=True)      # → {"error": "access_denied", "state": …}
    fake.issue_tokens("ann@example.com")   # consent without the browser dance → token dict
    fake.add_calendar("bob@example.com", private=False, shared_with=())
    fake.add_busy("bob@example.com", start, end)
    fake.events("ann@example.com")         # event dicts as Google stores them (not cancelled)
    fake.event("ann@example.com", event_id)
    fake.notifications                     # invitations/updates/cancellations Google sent
    fake.revoke_user("ann@example.com")    # the user removed the app: refresh tokens die
    fake.expire_access_tokens()            # access tokens die early (→ 401, then refresh)
    fake.fail("freebusy.query", 429, retry_after=7)        # scripted failures (see FakeServer)
    fake.fail("events.insert", 403, reason="rateLimitExceeded")
    fake.calls("freebusy.query")           # recorded requests

Routes: ``token``, ``revoke``, ``authorize``, ``userinfo``, ``freebusy.query``,
``events.insert``, ``events.list``, ``events.get``, ``events.patch``, ``events.update``,
``events.delete``.

Free/busy visibility: a calendar is readable by its owner, by accounts of the same e-mail domain
unless ``private=True`` (Workspace's default sharing of free/busy) and by ``shared_with``;
anything else answers ``notFound`` as Google does. Events (not cancelled, not transparent)
count as busy time next to the blocks added with :meth:`FakeGoogle.add_busy`.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from . import FakeServer, IssuedTokens, Recorded, Reply, now_utc, pkce_s256, unsigned_jwt

OPENID = "openid"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
USERINFO_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
CALENDAR = "https://www.googleapis.com/auth/calendar"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
FREEBUSY_SCOPES = {
    CALENDAR,
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.freebusy",
    "https://www.googleapis.com/auth/calendar.events.freebusy",
}
EVENTS_WRITE_SCOPES = {CALENDAR, CALENDAR_EVENTS}
EVENTS_READ_SCOPES = EVENTS_WRITE_SCOPES | {
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
}
#: Google answers these spellings for the short scope names.
SCOPE_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
FREEBUSY_MAX_CALENDARS = 50


def google_error(status: int, reason: str, message: str, domain: str = "global", **extra):
    """Google's JSON error envelope (Calendar API errors guide)."""
    return {
        "error": {
            "errors": [{"domain": domain, "reason": reason, "message": message, **extra}],
            "code": status,
            "message": message,
        }
    }


_DEFAULT_ERRORS = {
    400: ("global", "badRequest", "Bad Request"),
    401: ("global", "authError", "Invalid Credentials"),
    403: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    404: ("global", "notFound", "Not Found"),
    405: ("global", "methodNotAllowed", "Method Not Allowed"),
    409: ("global", "duplicate", "The requested identifier already exists."),
    410: ("global", "deleted", "Resource has been deleted"),
    412: ("global", "conditionNotMet", "Precondition Failed"),
    429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("global", "backendError", "Backend Error"),
    502: ("global", "backendError", "Bad Gateway"),
    503: ("global", "backendError", "The service is currently unavailable."),
}
_REASON_DOMAINS = {
    "rateLimitExceeded": "usageLimits",
    "userRateLimitExceeded": "usageLimits",
    "quotaExceeded": "usageLimits",
    "dailyLimitExceeded": "usageLimits",
}
_OAUTH_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "rate_limit_exceeded",
    500: "internal_failure",
    503: "temporarily_unavailable",
}


def rfc3339(value: datetime.datetime, millis: bool = False) -> str:
    value = value.astimezone(datetime.UTC)
    if millis:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime.datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"no time zone offset in {value!r}")
    return parsed.astimezone(datetime.UTC)


def _base32hex_id(nbytes=16):
    return base64.b32hexencode(secrets.token_bytes(nbytes)).decode().rstrip("=").lower()


@dataclass
class GoogleCalendar:
    email: str
    private: bool = False
    shared_with: set[str] = field(default_factory=set)
    time_zone: str = "UTC"
    busy: list[tuple[datetime.datetime, datetime.datetime]] = field(default_factory=list)
    events: dict[str, dict] = field(default_factory=dict)

    def busy_intervals(self):
        intervals = list(self.busy)
        for event in self.events.values():
            if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
                continue
            try:
                intervals.append(
                    (parse_time(event["start"]["dateTime"]), parse_time(event["end"]["dateTime"]))
                )
            except (KeyError, ValueError):
                continue
        return intervals


class FakeGoogle(IssuedTokens, FakeServer):
    client_id = "fake-client-id.apps.googleusercontent.com"
    client_secret = "fake-google-client-secret"

    routes = [
        ("POST", r"/token", "token", "_token"),
        ("POST", r"/revoke", "revoke", "_revoke"),
        ("GET", r"/o/oauth2/auth", "authorize", "_authorize_page"),
        ("GET", r"/oauth2/v3/userinfo", "userinfo", "_userinfo"),
        ("POST", r"/calendar/v3/freeBusy", "freebusy.query", "_freebusy"),
        ("POST", r"/calendar/v3/calendars/(?P<cid>[^/]+)/events", "events.insert", "_insert"),
        ("GET", r"/calendar/v3/calendars/(?P<cid>[^/]+)/events", "events.list", "_list"),
        (
            "GET",
            r"/calendar/v3/calendars/(?P<cid>[^/]+)/events/(?P<eid>[^/]+)",
            "events.get",
            "_get",
        ),
        (
            "PATCH",
            r"/calendar/v3/calendars/(?P<cid>[^/]+)/events/(?P<eid>[^/]+)",
            "events.patch",
            "_patch",
        ),
        (
            "PUT",
            r"/calendar/v3/calendars/(?P<cid>[^/]+)/events/(?P<eid>[^/]+)",
            "events.update",
            "_update",
        ),
        (
            "DELETE",
            r"/calendar/v3/calendars/(?P<cid>[^/]+)/events/(?P<eid>[^/]+)",
            "events.delete",
            "_delete",
        ),
    ]

    def __init__(self):
        super().__init__()
        self.calendars: dict[str, GoogleCalendar] = {}
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.grants: dict[str, set[str]] = {}  # e-mail → scopes granted so far
        self.notifications: list[dict] = []
        #: Seconds an access token lives (Google: 3599).
        self.access_token_lifetime = 3599
        #: Who "signs in" when a browser opens the consent URL.
        self.default_user = "agent@example.com"
        #: Whether inserts answer the conference as ``pending`` (then ``success`` on GET).
        self.conference_pending = True

    # -- configuration -----------------------------------------------------------------------

    def settings(self) -> dict:
        """``WAGTAIL_DYNCHAT["GOOGLE"]`` pointing at this fake."""
        return {
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "AUTH_URI": f"{self.base_url}/o/oauth2/auth",
            "TOKEN_URI": f"{self.base_url}/token",
            "REVOKE_URI": f"{self.base_url}/revoke",
            "API_ENDPOINT": self.base_url,
        }

    # -- calendars ---------------------------------------------------------------------------

    def add_calendar(self, email, *, private=False, shared_with=(), time_zone="UTC"):
        """Create (or reconfigure) the primary calendar of ``email``."""
        with self.lock:
            calendar = self.calendars.get(email.lower())
            if calendar is None:
                calendar = self.calendars[email.lower()] = GoogleCalendar(email=email)
            calendar.private = private
            calendar.shared_with = {address.lower() for address in shared_with}
            calendar.time_zone = time_zone
            return calendar

    def calendar(self, email) -> GoogleCalendar:
        with self.lock:
            calendar = self.calendars.get(email.lower())
            if calendar is None:
                calendar = self.calendars[email.lower()] = GoogleCalendar(email=email)
            return calendar

    def add_busy(self, email, start: datetime.datetime, end: datetime.datetime):
        """A busy block in ``email``'s calendar (aware datetimes)."""
        with self.lock:
            self.calendar(email).busy.append(
                (start.astimezone(datetime.UTC), end.astimezone(datetime.UTC))
            )

    def events(self, email, *, include_cancelled=False) -> list[dict]:
        with self.lock:
            calendar = self.calendars.get(email.lower())
            if calendar is None:
                return []
            return [
                copy.deepcopy(event)
                for event in calendar.events.values()
                if include_cancelled or event.get("status") != "cancelled"
            ]

    def event(self, email, event_id) -> dict | None:
        with self.lock:
            calendar = self.calendars.get(email.lower())
            event = calendar.events.get(event_id) if calendar else None
            return copy.deepcopy(event) if event else None

    # -- accounts and tokens -----------------------------------------------------------------

    def sign_in(
        self,
        auth_url: str,
        email: str = "agent@example.com",
        *,
        deny: bool = False,
        granted_scopes: list[str] | None = None,
    ) -> dict:
        """What Google appends to the redirect URI after ``email`` answers the consent screen
        opened at ``auth_url``: ``{"state", "code", "scope", "authuser", "prompt"}``, or
        ``{"error": "access_denied", "state"}`` with ``deny=True``. ``granted_scopes`` lets the
        user untick permissions (or have granted more earlier)."""
        split = urlsplit(auth_url)
        if f"{split.scheme}://{split.netloc}{split.path}" != f"{self.base_url}/o/oauth2/auth":
            raise ValueError(f"{auth_url} is not this fake's consent screen")
        params = {key: values[-1] for key, values in parse_qs(split.query).items()}
        if params.get("client_id") != self.client_id:
            raise ValueError("Error 401: invalid_client (unknown client_id)")
        if params.get("response_type") != "code":
            raise ValueError("Error 400: invalid_request (response_type must be code)")
        if not params.get("redirect_uri"):
            raise ValueError("Error 400: invalid_request (missing redirect_uri)")
        method = params.get(
            "code_challenge_method", "plain" if params.get("code_challenge") else None
        )
        if method not in (None, "plain", "S256"):
            raise ValueError("Error 400: invalid_request (code_challenge_method)")
        answer = {"state": params["state"]} if "state" in params else {}
        if deny:
            return {"error": "access_denied", **answer}
        requested = [SCOPE_ALIASES.get(s, s) for s in params.get("scope", "").split()]
        with self.lock:
            previous = self.grants.get(email.lower(), set())
            if granted_scopes is not None:
                scopes = [SCOPE_ALIASES.get(s, s) for s in granted_scopes]
            else:
                scopes = list(requested)
                if params.get("include_granted_scopes") == "true":
                    scopes += sorted(previous - set(scopes))
            self.grants[email.lower()] = previous | set(scopes)
            self.calendar(email)
            code = "4/0A" + secrets.token_urlsafe(32)
            self.codes[code] = {
                "email": email,
                "client_id": params["client_id"],
                "redirect_uri": params["redirect_uri"],
                "scopes": scopes,
                "code_challenge": params.get("code_challenge"),
                "code_challenge_method": method,
                "offline": params.get("access_type") == "offline",
                "nonce": params.get("nonce"),
                "issued": time.time(),
                "used": False,
            }
        return {
            **answer,
            "code": code,
            "scope": " ".join(scopes),
            "authuser": "0",
            "prompt": "consent",
        }

    def issue_tokens(self, email: str, scopes: list[str] | None = None) -> dict:
        """Consent without the redirect dance: a token response as ``/token`` would send it."""
        scopes = scopes or [
            OPENID,
            USERINFO_EMAIL,
            CALENDAR_EVENTS,
            "https://www.googleapis.com/auth/calendar.freebusy",
        ]
        with self.lock:
            self.calendar(email)
            self.grants.setdefault(email.lower(), set()).update(scopes)
            return self._new_tokens(email, scopes, offline=True)

    # -- errors ------------------------------------------------------------------------------

    def error_reply(self, route, status, reason):
        if route in ("token", "revoke"):
            error = reason or _OAUTH_ERRORS.get(status, "invalid_request")
            return Reply(status, {"error": error, "error_description": "Scripted failure"})
        domain, default_reason, message = _DEFAULT_ERRORS.get(
            status, ("global", "backendError", "Error")
        )
        if reason:
            domain = _REASON_DOMAINS.get(reason, domain if reason == default_reason else "global")
            if reason == "quotaExceeded":
                message = "Calendar usage limits exceeded."
            elif reason == "userRateLimitExceeded":
                message = "User Rate Limit Exceeded"
        reply = Reply(status, google_error(status, reason or default_reason, message, domain))
        if status == 401:
            reply.headers["WWW-Authenticate"] = (
                'Bearer realm="https://accounts.google.com/", error="invalid_token"'
            )
        return reply

    def not_found(self, request):
        return Reply(404, "Not Found")

    def _error(self, status, reason, message, domain="global", **extra):
        return Reply(status, google_error(status, reason, message, domain, **extra))

    # -- OAuth endpoints ---------------------------------------------------------------------

    def _new_tokens(self, email, scopes, *, offline, refresh_token=None, nonce=None):
        access_token = "ya29.a0" + secrets.token_urlsafe(40)
        if offline and refresh_token is None:
            refresh_token = "1//0g" + secrets.token_urlsafe(40)
            self.refresh_tokens[refresh_token] = {
                "email": email,
                "scopes": list(scopes),
                "revoked": False,
            }
        self.access_tokens[access_token] = {
            "email": email,
            "scopes": list(scopes),
            "expires_at": time.time() + self.access_token_lifetime,
            "refresh_token": refresh_token,
            "revoked": False,
        }
        answer = {
            "access_token": access_token,
            "expires_in": self.access_token_lifetime,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        if OPENID in scopes:
            now = int(time.time())
            claims = {
                "iss": "https://accounts.google.com",
                "azp": self.client_id,
                "aud": self.client_id,
                "sub": self._sub(email),
                "iat": now,
                "exp": now + 3600,
            }
            if USERINFO_EMAIL in scopes:
                claims.update(email=email, email_verified=True)
            if nonce:
                claims["nonce"] = nonce
            answer["id_token"] = unsigned_jwt(claims)
        return answer, refresh_token

    @staticmethod
    def _sub(email):
        return str(int(hashlib.sha256(email.lower().encode()).hexdigest(), 16) % 10**21)

    def _client_credentials(self, request: Recorded):
        form = request.body if isinstance(request.body, dict) else {}
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:]).decode()
            except ValueError:
                return None, None
            client_id, _, secret = decoded.partition(":")
            return unquote_plus(client_id), unquote_plus(secret)
        return form.get("client_id"), form.get("client_secret")

    def _token(self, request: Recorded):
        form = request.body if isinstance(request.body, dict) else {}
        client_id, secret = self._client_credentials(request)
        if client_id != self.client_id or secret != self.client_secret:
            return Reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = self.codes.get(form.get("code", ""))
            if entry is None or entry["used"] or time.time() - entry["issued"] > 600:
                return Reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            if form.get("redirect_uri") != entry["redirect_uri"]:
                return Reply(
                    400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
                )
            if entry["code_challenge"]:
                verifier = form.get("code_verifier")
                if not verifier:
                    return Reply(
                        400,
                        {"error": "invalid_grant", "error_description": "Missing code verifier."},
                    )
                expected = (
                    pkce_s256(verifier) if entry["code_challenge_method"] == "S256" else verifier
                )
                if expected != entry["code_challenge"]:
                    return Reply(
                        400,
                        {"error": "invalid_grant", "error_description": "Invalid code verifier."},
                    )
            entry["used"] = True
            answer, refresh_token = self._new_tokens(
                entry["email"], entry["scopes"], offline=entry["offline"], nonce=entry["nonce"]
            )
            if refresh_token:
                answer["refresh_token"] = refresh_token
            return Reply(200, answer, {"Cache-Control": "no-cache, no-store, max-age=0"})
        if grant == "refresh_token":
            info = self.refresh_tokens.get(form.get("refresh_token", ""))
            if info is None or info["revoked"]:
                return Reply(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            answer, _ = self._new_tokens(
                info["email"], info["scopes"], offline=True, refresh_token=form["refresh_token"]
            )
            return Reply(200, answer, {"Cache-Control": "no-cache, no-store, max-age=0"})
        return Reply(
            400,
            {
                "error": "unsupported_grant_type",
                "error_description": f"Invalid grant_type: {grant}",
            },
        )

    def _revoke(self, request: Recorded):
        form = request.body if isinstance(request.body, dict) else {}
        token = form.get("token") or request.query.get("token", "")
        info = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        if info is None or info["revoked"]:
            return Reply(
                400, {"error": "invalid_token", "error_description": "Token expired or revoked"}
            )
        refresh_token = token if token in self.refresh_tokens else info.get("refresh_token")
        for other in self.access_tokens.values():
            if other is info or (refresh_token and other.get("refresh_token") == refresh_token):
                other["revoked"] = True
        if refresh_token in self.refresh_tokens:
            self.refresh_tokens[refresh_token]["revoked"] = True
        info["revoked"] = True
        return Reply(200, {})

    def _authorize_page(self, request: Recorded):
        url = f"{self.base_url}/o/oauth2/auth?{urlencode(request.query)}"
        try:
            answer = self.sign_in(url, self.default_user)
        except ValueError as error:
            return Reply(400, f"Error 400: {error}")
        separator = "&" if "?" in request.query["redirect_uri"] else "?"
        location = request.query["redirect_uri"] + separator + urlencode(answer)
        return Reply(302, "", {"Location": location})

    def _bearer(self, request: Recorded, scopes: set[str] | None):
        token = request.bearer
        info = self.access_tokens.get(token or "")
        if info is None or info["revoked"] or info["expires_at"] <= time.time():
            reply = self._error(
                401,
                "authError",
                "Invalid Credentials",
                location="Authorization",
                locationType="header",
            )
            reply.headers["WWW-Authenticate"] = (
                'Bearer realm="https://accounts.google.com/", error="invalid_token"'
            )
            return None, reply
        if scopes is not None and not scopes & set(info["scopes"]):
            return None, self._error(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )
        return info, None

    def _userinfo(self, request: Recorded):
        info, error = self._bearer(request, None)
        if error:
            return error
        answer = {"sub": self._sub(info["email"])}
        if USERINFO_EMAIL in info["scopes"]:
            answer.update(email=info["email"], email_verified=True)
        return Reply(200, answer)

    # -- Calendar endpoints ------------------------------------------------------------------

    def _can_read(self, reader: str, calendar: GoogleCalendar) -> bool:
        reader = reader.lower()
        owner = calendar.email.lower()
        if reader == owner or reader in calendar.shared_with:
            return True
        return not calendar.private and reader.split("@")[-1] == owner.split("@")[-1]

    def _freebusy(self, request: Recorded):
        info, error = self._bearer(request, FREEBUSY_SCOPES)
        if error:
            return error
        body = request.json
        if not isinstance(body, dict):
            return self._error(400, "parseError", "Parse Error")
        for name in ("timeMin", "timeMax"):
            if not body.get(name):
                return self._error(400, "required", "Required", location=name)
        try:
            time_min, time_max = parse_time(body["timeMin"]), parse_time(body["timeMax"])
        except ValueError:
            return self._error(400, "invalid", "Bad Request")
        if time_max <= time_min:
            return self._error(400, "timeRangeEmpty", "The specified time range is empty.")
        calendars = {}
        for index, item in enumerate(body.get("items") or []):
            calendar_id = item.get("id", "")
            if index >= FREEBUSY_MAX_CALENDARS:
                calendars[calendar_id] = {
                    "errors": [{"domain": "global", "reason": "tooManyCalendarsRequested"}],
                    "busy": [],
                }
                continue
            lookup = info["email"] if calendar_id == "primary" else calendar_id
            calendar = self.calendars.get(lookup.lower())
            if calendar is None or not self._can_read(info["email"], calendar):
                calendars[calendar_id] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
                continue
            busy = []
            for start, end in sorted(calendar.busy_intervals()):
                start, end = max(start, time_min), min(end, time_max)
                if start >= end:
                    continue
                if busy and start <= busy[-1][1]:
                    busy[-1] = (busy[-1][0], max(end, busy[-1][1]))
                else:
                    busy.append((start, end))
            calendars[calendar_id] = {
                "busy": [{"start": rfc3339(s), "end": rfc3339(e)} for s, e in busy]
            }
        return Reply(
            200,
            {
                "kind": "calendar#freeBusy",
                "timeMin": rfc3339(time_min, millis=True),
                "timeMax": rfc3339(time_max, millis=True),
                "calendars": calendars,
            },
        )

    def _own_calendar(self, request, calendar_id, scopes):
        info, error = self._bearer(request, scopes)
        if error:
            return None, None, error
        email = info["email"] if calendar_id == "primary" else calendar_id
        if email.lower() != info["email"].lower():
            return None, None, self._error(404, "notFound", "Not Found")
        return info, self.calendar(info["email"]), None

    def _notify(self, request, action, calendar, event):
        send = request.query.get("sendUpdates") or (
            "all" if request.query.get("sendNotifications") == "true" else "none"
        )
        if send == "none":
            return
        owner_domain = calendar.email.lower().split("@")[-1]
        recipients = [
            attendee["email"]
            for attendee in event.get("attendees") or []
            if attendee.get("email", "").lower() != calendar.email.lower()
            and (send == "all" or attendee["email"].lower().split("@")[-1] != owner_domain)
        ]
        if recipients:
            self.notifications.append(
                {
                    "action": action,
                    "calendar": calendar.email,
                    "event_id": event["id"],
                    "recipients": recipients,
                    "send_updates": send,
                }
            )

    def _validate_times(self, body):
        for name in ("start", "end"):
            value = body.get(name)
            if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
                return self._error(400, "required", f"Missing {name} time.")
        try:
            start = parse_time(body["start"]["dateTime"])
            end = parse_time(body["end"]["dateTime"])
        except (KeyError, ValueError):
            return self._error(400, "invalid", "Invalid start or end time.")
        if end < start:
            return self._error(400, "timeRangeEmpty", "The specified time range is empty.")
        return None

    def _apply_conference(self, request, event, body):
        if request.query.get("conferenceDataVersion") != "1":
            return  # Google ignores conferenceData without conferenceDataVersion=1
        conference = body.get("conferenceData")
        if not isinstance(conference, dict):
            return
        create = conference.get("createRequest")
        if not create:
            event["conferenceData"] = conference
            return
        if (event.get("conferenceData") or {}).get("createRequest", {}).get(
            "requestId"
        ) == create.get("requestId"):
            return  # same requestId: the request is ignored
        code = "-".join(
            "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
            for n in (3, 4, 3)
        )
        uri = f"https://meet.google.com/{code}"
        event["conferenceData"] = {
            "createRequest": {
                "requestId": create.get("requestId"),
                "conferenceSolutionKey": create.get("conferenceSolutionKey")
                or {"type": "hangoutsMeet"},
                "status": {"statusCode": "success"},
            },
            "entryPoints": [
                {"entryPointType": "video", "uri": uri, "label": uri[8:]},
            ],
            "conferenceSolution": {
                "key": {"type": "hangoutsMeet"},
                "name": "Google Meet",
                "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
            },
            "conferenceId": code,
        }
        event["hangoutLink"] = uri
        event["_conference_seen"] = not self.conference_pending

    def _render(self, event, *, reveal_conference):
        rendered = {k: v for k, v in copy.deepcopy(event).items() if not k.startswith("_")}
        if reveal_conference:
            event["_conference_seen"] = True
        elif not event.get("_conference_seen") and "conferenceData" in rendered:
            create = rendered["conferenceData"].get("createRequest")
            if create:
                rendered["conferenceData"] = {
                    "createRequest": {**create, "status": {"statusCode": "pending"}}
                }
                rendered.pop("hangoutLink", None)
        return rendered

    def _attendees(self, attendees, previous=()):
        statuses = {a.get("email", "").lower(): a.get("responseStatus") for a in previous}
        result = []
        for attendee in attendees or []:
            if not attendee.get("email"):
                continue
            result.append(
                {
                    **attendee,
                    "responseStatus": attendee.get("responseStatus")
                    or statuses.get(attendee["email"].lower())
                    or "needsAction",
                }
            )
        return result

    def _insert(self, request: Recorded, cid):
        _info, calendar, error = self._own_calendar(request, cid, EVENTS_WRITE_SCOPES)
        if error:
            return error
        body = request.json
        if not isinstance(body, dict):
            return self._error(400, "parseError", "Parse Error")
        error = self._validate_times(body)
        if error:
            return error
        event_id = body.get("id")
        if event_id is not None:
            if not EVENT_ID.match(str(event_id)):
                return self._error(400, "invalid", "Invalid resource id value.")
            if event_id in calendar.events:
                return self._error(409, "duplicate", "The requested identifier already exists.")
        else:
            event_id = _base32hex_id()
        now = rfc3339(now_utc(), millis=True)
        owner = {"email": calendar.email, "self": True}
        event = {
            "kind": "calendar#event",
            "etag": f'"{int(time.time() * 1000)}"',
            "id": event_id,
            "status": "confirmed",
            "htmlLink": "https://www.google.com/calendar/event?eid="
            + base64.urlsafe_b64encode(f"{event_id} {calendar.email}".encode())
            .decode()
            .rstrip("="),
            "created": now,
            "updated": now,
            "summary": body.get("summary", ""),
            "description": body.get("description", ""),
            "creator": owner,
            "organizer": owner,
            "start": body["start"],
            "end": body["end"],
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "attendees": self._attendees(body.get("attendees")),
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        for key in ("location", "transparency", "visibility", "colorId"):
            if key in body:
                event[key] = body[key]
        self._apply_conference(request, event, body)
        calendar.events[event_id] = event
        self._notify(request, "created", calendar, event)
        return Reply(200, self._render(event, reveal_conference=False))

    def _find(self, request, cid, eid, scopes):
        _info, calendar, error = self._own_calendar(request, cid, scopes)
        if error:
            return None, None, error
        event = calendar.events.get(eid)
        if event is None:
            return None, None, self._error(404, "notFound", "Not Found")
        return calendar, event, None

    def _list(self, request: Recorded, cid):
        _info, calendar, error = self._own_calendar(request, cid, EVENTS_READ_SCOPES)
        if error:
            return error
        show_deleted = request.query.get("showDeleted") == "true"
        items = [
            self._render(event, reveal_conference=True)
            for event in calendar.events.values()
            if show_deleted or event.get("status") != "cancelled"
        ]
        return Reply(
            200,
            {
                "kind": "calendar#events",
                "summary": calendar.email,
                "timeZone": calendar.time_zone,
                "items": items,
            },
        )

    def _get(self, request: Recorded, cid, eid):
        _calendar, event, error = self._find(request, cid, eid, EVENTS_READ_SCOPES)
        if error:
            return error
        return Reply(200, self._render(event, reveal_conference=True))

    def _modify(self, request, cid, eid, *, replace):
        calendar, event, error = self._find(request, cid, eid, EVENTS_WRITE_SCOPES)
        if error:
            return error
        body = request.json
        if not isinstance(body, dict):
            return self._error(400, "parseError", "Parse Error")
        merged = {**event, **body} if not replace else {**body}
        error = self._validate_times(merged)
        if error:
            return error
        for key in ("id", "kind", "creator", "organizer", "created", "htmlLink", "iCalUID"):
            merged[key] = event[key]
        # The stored conference stays; a body's conferenceData only counts with
        # conferenceDataVersion=1 (applied below).
        merged.pop("conferenceData", None)
        merged.pop("hangoutLink", None)
        for key in ("conferenceData", "hangoutLink"):
            if key in event:
                merged[key] = event[key]
        merged["attendees"] = self._attendees(
            merged.get("attendees"), previous=event.get("attendees") or ()
        )
        if "status" not in body:
            merged["status"] = event["status"]
        merged["sequence"] = event.get("sequence", 0) + 1
        merged["updated"] = rfc3339(now_utc(), millis=True)
        merged["etag"] = f'"{int(time.time() * 1000)}"'
        for key, value in event.items():
            if key.startswith("_"):
                merged[key] = value
        self._apply_conference(request, merged, body)
        calendar.events[eid] = merged
        self._notify(request, "updated", calendar, merged)
        return Reply(200, self._render(merged, reveal_conference=False))

    def _patch(self, request: Recorded, cid, eid):
        return self._modify(request, cid, eid, replace=False)

    def _update(self, request: Recorded, cid, eid):
        return self._modify(request, cid, eid, replace=True)

    def _delete(self, request: Recorded, cid, eid):
        calendar, event, error = self._find(request, cid, eid, EVENTS_WRITE_SCOPES)
        if error:
            return error
        if event.get("status") == "cancelled":
            return self._error(410, "deleted", "Resource has been deleted")
        event["status"] = "cancelled"
        event["updated"] = rfc3339(now_utc(), millis=True)
        self._notify(request, "cancelled", calendar, event)
        return Reply(204)

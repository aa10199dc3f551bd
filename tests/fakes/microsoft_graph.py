"""A stateful fake of Microsoft Entra ID (the endpoints msal uses) and Graph v1.0 calendars.

It serves **https** on loopback, because msal refuses plain-http authorities: the certificate
comes from a throw-away CA (:func:`tests.fakes.tls_files`); the ``microsoft_fake`` fixture points
``REQUESTS_CA_BUNDLE`` at it. Wire formats follow integrations.md §4 and §5.2:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (msal's tenant discovery; the
  provider disables instance discovery for hosts msal does not know);
- ``GET /{tenant}/oauth2/v2.0/authorize`` (a browser's consent: redirects at once for
  :attr:`FakeMicrosoft.default_user`);
- ``POST /{tenant}/oauth2/v2.0/token``: ``authorization_code`` (PKCE S256 verified, the
  ``nonce`` of the authorize request echoed in the id_token, ``client_info`` when asked) and
  ``refresh_token`` (rotating refresh tokens); ``invalid_grant`` 400 bodies with
  ``error_codes`` (AADSTS numbers are illustrative); ``invalid_client`` 401;
- Graph under ``/v1.0``: ``GET /me``, ``GET /me/calendar``, ``POST /me/calendar/getSchedule``
  (≤ 20 schedules and < 62 days, else 400; per-schedule ``error`` for mailboxes the caller may
  not read; ``availabilityView`` of window/interval digits; times in the ``Prefer:
  outlook.timezone`` zone, UTC by default), ``POST /me/events`` (also ``/me/calendar/events``
  and ``/me/calendars/{id}/events``; 201; ``transactionId`` answers the event already created
  with it; Teams ``onlineMeeting.joinUrl``), ``GET /me/events``, ``GET|PATCH|DELETE
  /me/events/{id}`` (204, then 404 ``ErrorItemNotFound``); 401 ``InvalidAuthenticationToken``
  and 403 ``ErrorAccessDenied`` (missing ``Calendars.*`` scope).

Test API (thread-safe)::

    fake = FakeMicrosoft().start()             # or the ``microsoft_fake`` fixture
    fake.settings()                            # WAGTAIL_DYNCHAT["MICROSOFT"] pointing here
    fake.ca_file                               # the CA to trust (REQUESTS_CA_BUNDLE)
    fake.sign_in(auth_url, "ann@contoso.com")  # → {"code", "state", "session_state"}
    fake.sign_in(auth_url, deny=True)          # → {"error": "access_denied", …}
    fake.add_mailbox("bob@contoso.com", private=False, shared_with=())
    fake.add_busy("bob@contoso.com", start, end, status="busy", subject="")
    fake.events("ann@contoso.com"); fake.event("ann@contoso.com", event_id)
    fake.notifications                         # invitations/updates/cancellations sent
    fake.revoke_user("ann@contoso.com"); fake.expire_access_tokens()
    fake.access_token_lifetime = 60            # < 5 min: msal refreshes before every use
    fake.fail("getSchedule", 429, retry_after=7); fake.fail("events.create", 503)
    fake.calls("getSchedule")

Routes: ``openid-configuration``, ``authorize``, ``token``, ``me``, ``calendar.get``,
``getSchedule``, ``events.create``, ``events.list``, ``events.get``, ``events.update``,
``events.delete``. Visibility of free/busy is as in the Google fake: owner, same e-mail domain
unless ``private``, or ``shared_with``.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import secrets
import time
import uuid
import zoneinfo
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from . import (
    FakeServer,
    IssuedTokens,
    Recorded,
    Reply,
    b64url,
    now_utc,
    pkce_s256,
    tls_files,
    unsigned_jwt,
)

GRAPH = "https://graph.microsoft.com/"
CALENDAR_SCOPES = {"Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared"}
WRITE_SCOPES = {"Calendars.ReadWrite"}
MAX_SCHEDULES = 20
MAX_WINDOW = datetime.timedelta(days=62)
STATUS_DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingelsewhere": "4"}
# Which status wins when several items overlap one availabilityView slot.
STATUS_RANK = ["free", "workingelsewhere", "tentative", "busy", "oof"]


def graph_error(code: str, message: str) -> dict:
    """Graph's JSON error envelope (``concepts/errors.md``)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now_utc().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


_DEFAULT_ERRORS = {
    400: ("ErrorInvalidRequest", "The request is invalid."),
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    405: ("Request_BadRequest", "Specified HTTP method is not allowed for the request target."),
    409: ("ErrorIrresolvableConflict", "The change key passed in the request does not match."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceNotAvailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway timed out."),
}
_OAUTH_ERRORS = {
    400: ("invalid_request", 900144),
    401: ("invalid_client", 7000215),
    429: ("temporarily_unavailable", 90033),
    500: ("server_error", 90010),
    503: ("temporarily_unavailable", 90033),
}


def graph_time(value: datetime.datetime, zone: str) -> dict:
    local = value.astimezone(_zone(zone)).replace(tzinfo=None)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.") + "0000000", "timeZone": zone}


def _zone(name):
    if name in ("UTC", "", None):
        return datetime.UTC
    return zoneinfo.ZoneInfo(name)  # IANA names only (Windows names are not modelled)


def parse_graph_time(value: dict) -> datetime.datetime:
    text = value["dateTime"]
    if "." in text:
        head, _, fraction = text.partition(".")
        text = f"{head}.{fraction[:6]}"
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(value.get("timeZone") or "UTC"))
    return parsed.astimezone(datetime.UTC)


def _prefer_zone(request: Recorded) -> str:
    prefer = request.headers.get("prefer", "")
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "outlook.timezone":
            return value.strip().strip('"')
    return "UTC"


@dataclass
class Mailbox:
    email: str
    display_name: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    calendar_id: str = field(default_factory=lambda: "AAMkAGI2" + secrets.token_urlsafe(24))
    private: bool = False
    shared_with: set[str] = field(default_factory=set)
    busy: list[dict] = field(default_factory=list)  # {start, end, status, subject}
    events: dict[str, dict] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)  # transactionId → event id

    def schedule_items(self):
        items = list(self.busy)
        for event in self.events.values():
            if event.get("isCancelled"):
                continue
            items.append(
                {
                    "start": parse_graph_time(event["start"]),
                    "end": parse_graph_time(event["end"]),
                    "status": event.get("showAs", "busy"),
                    "subject": event.get("subject", ""),
                    "location": (event.get("location") or {}).get("displayName", ""),
                }
            )
        return items


class FakeMicrosoft(IssuedTokens, FakeServer):
    tls = True
    tenant_id = "11111111-2222-3333-4444-555555555555"
    client_id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    client_secret = "fake-microsoft-client-secret"

    routes = [
        (
            "GET",
            r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration",
            "openid-configuration",
            "_openid_configuration",
        ),
        ("GET", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/authorize", "authorize", "_authorize_page"),
        ("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", "token", "_token"),
        ("GET", r"/v1\.0/me", "me", "_me"),
        ("GET", r"/v1\.0/me/calendar", "calendar.get", "_calendar"),
        ("POST", r"/v1\.0/me/calendar/getSchedule", "getSchedule", "_get_schedule"),
        ("POST", r"/v1\.0/me/events", "events.create", "_create"),
        ("POST", r"/v1\.0/me/calendar/events", "events.create", "_create"),
        ("POST", r"/v1\.0/me/calendars/(?P<cid>[^/]+)/events", "events.create", "_create"),
        ("GET", r"/v1\.0/me/events", "events.list", "_list"),
        ("GET", r"/v1\.0/me/events/(?P<eid>[^/]+)", "events.get", "_get"),
        ("PATCH", r"/v1\.0/me/events/(?P<eid>[^/]+)", "events.update", "_update"),
        ("DELETE", r"/v1\.0/me/events/(?P<eid>[^/]+)", "events.delete", "_delete"),
    ]

    def __init__(self):
        super().__init__()
        self.mailboxes: dict[str, Mailbox] = {}
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.notifications: list[dict] = []
        #: Seconds an access token lives. msal refreshes tokens with less than 5 minutes left.
        self.access_token_lifetime = 3599
        #: Who "signs in" when a browser opens the authorize URL.
        self.default_user = "agent@contoso.com"
        self.max_schedules = MAX_SCHEDULES

    # -- configuration -----------------------------------------------------------------------

    @property
    def ca_file(self) -> str:
        return tls_files()[2]

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    def settings(self) -> dict:
        """``WAGTAIL_DYNCHAT["MICROSOFT"]`` pointing at this fake."""
        return {
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "AUTHORITY": self.authority,
            "GRAPH_ENDPOINT": f"{self.base_url}/v1.0",
        }

    # -- mailboxes ---------------------------------------------------------------------------

    def add_mailbox(self, email, *, private=False, shared_with=(), display_name=None) -> Mailbox:
        with self.lock:
            mailbox = self.mailbox(email)
            mailbox.private = private
            mailbox.shared_with = {address.lower() for address in shared_with}
            if display_name:
                mailbox.display_name = display_name
            return mailbox

    def mailbox(self, email) -> Mailbox:
        with self.lock:
            mailbox = self.mailboxes.get(email.lower())
            if mailbox is None:
                name = email.split("@")[0].replace(".", " ").title()
                mailbox = self.mailboxes[email.lower()] = Mailbox(email=email, display_name=name)
            return mailbox

    def add_busy(self, email, start, end, *, status="busy", subject=""):
        """A schedule item in ``email``'s calendar (aware datetimes; status free, tentative,
        busy, oof or workingElsewhere)."""
        with self.lock:
            self.mailbox(email).busy.append(
                {
                    "start": start.astimezone(datetime.UTC),
                    "end": end.astimezone(datetime.UTC),
                    "status": status,
                    "subject": subject,
                    "location": "",
                }
            )

    def events(self, email, *, include_cancelled=False) -> list[dict]:
        with self.lock:
            mailbox = self.mailboxes.get(email.lower())
            if mailbox is None:
                return []
            return [
                copy.deepcopy(event)
                for event in mailbox.events.values()
                if include_cancelled or not event.get("isCancelled")
            ]

    def event(self, email, event_id) -> dict | None:
        with self.lock:
            mailbox = self.mailboxes.get(email.lower())
            event = mailbox.events.get(event_id) if mailbox else None
            return copy.deepcopy(event) if event else None

    # -- accounts and tokens -----------------------------------------------------------------

    def sign_in(self, auth_url: str, email: str = "agent@contoso.com", *, deny=False) -> dict:
        """What Entra ID sends to the redirect URI after ``email`` consents at ``auth_url``
        (``{"code", "state", "session_state"}``), or the ``access_denied`` error."""
        split = urlsplit(auth_url)
        if f"{split.scheme}://{split.netloc}" != self.base_url or not split.path.endswith(
            "/oauth2/v2.0/authorize"
        ):
            raise ValueError(f"{auth_url} is not this fake's authorize endpoint")
        params = {key: values[-1] for key, values in parse_qs(split.query).items()}
        if params.get("client_id") != self.client_id:
            raise ValueError("AADSTS700016: Application not found in the directory")
        if params.get("response_type") != "code" or not params.get("redirect_uri"):
            raise ValueError("AADSTS900144: response_type=code and redirect_uri are required")
        method = params.get(
            "code_challenge_method", "plain" if params.get("code_challenge") else None
        )
        if method not in (None, "plain", "S256"):
            raise ValueError("AADSTS501491: invalid code_challenge_method")
        answer = {"state": params["state"]} if "state" in params else {}
        if deny:
            return {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                "error_subcode": "cancel",
                **answer,
            }
        with self.lock:
            self.mailbox(email)
            code = "0.AXoA" + secrets.token_urlsafe(48)
            self.codes[code] = {
                "email": email,
                "redirect_uri": params["redirect_uri"],
                "scopes": params.get("scope", "").split(),
                "code_challenge": params.get("code_challenge"),
                "code_challenge_method": method,
                "nonce": params.get("nonce"),
                "issued": time.time(),
                "used": False,
            }
        return {"code": code, **answer, "session_state": str(uuid.uuid4())}

    # -- errors ------------------------------------------------------------------------------

    def error_reply(self, route, status, reason):
        if route in ("token", "openid-configuration", "authorize"):
            error, number = _OAUTH_ERRORS.get(status, ("invalid_request", 900144))
            return Reply(status, self._oauth_error(reason or error, number, "Scripted failure"))
        code, message = _DEFAULT_ERRORS.get(status, ("generalException", "General exception."))
        reply = Reply(status, graph_error(reason or code, message))
        if status == 401:
            reply.headers["WWW-Authenticate"] = (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
            )
        return reply

    def _oauth_error(self, error, number, description):
        return {
            "error": error,
            "error_description": f"AADSTS{number}: {description}",
            "error_codes": [number],
            "timestamp": now_utc().strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        }

    # -- identity endpoints ------------------------------------------------------------------

    def _tenant_ok(self, tenant):
        return tenant in (self.tenant_id, "organizations", "common")

    def _openid_configuration(self, request: Recorded, tenant):
        if not self._tenant_ok(tenant):
            return Reply(
                400, self._oauth_error("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
            )
        base = f"{self.base_url}/{tenant}"
        return Reply(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.base_url}/{self.tenant_id}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            },
        )

    def _authorize_page(self, request: Recorded, tenant):
        url = f"{self.base_url}{request.path}?{urlencode(request.query)}"
        try:
            answer = self.sign_in(url, self.default_user)
        except ValueError as error:
            return Reply(400, str(error))
        separator = "&" if "?" in request.query["redirect_uri"] else "?"
        location = request.query["redirect_uri"] + separator + urlencode(answer)
        return Reply(302, "", {"Location": location})

    def _issue(self, email, scopes, *, nonce=None, client_info=False):
        mailbox = self.mailbox(email)
        resource_scopes = [s for s in scopes if s.startswith(GRAPH)] or [f"{GRAPH}User.Read"]
        short = [s[len(GRAPH) :] for s in resource_scopes]
        access_token = unsigned_jwt(
            {
                "aud": "https://graph.microsoft.com",
                "tid": self.tenant_id,
                "oid": mailbox.id,
                "upn": mailbox.email,
                "scp": " ".join(short),
                "jti": secrets.token_urlsafe(16),
            }
        )
        self.access_tokens[access_token] = {
            "email": mailbox.email,
            "scopes": set(short),
            "expires_at": time.time() + self.access_token_lifetime,
            "revoked": False,
        }
        answer = {
            "token_type": "Bearer",
            "scope": " ".join(resource_scopes),
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": access_token,
        }
        if "offline_access" in scopes:
            refresh_token = "1.AXoA" + secrets.token_urlsafe(64)
            self.refresh_tokens[refresh_token] = {
                "email": mailbox.email,
                "scopes": list(scopes),
                "revoked": False,
            }
            answer["refresh_token"] = refresh_token
        if "openid" in scopes:
            now = int(time.time())
            claims = {
                "aud": self.client_id,
                "iss": f"{self.base_url}/{self.tenant_id}/v2.0",
                "iat": now,
                "nbf": now,
                "exp": now + 3600,
                "name": mailbox.display_name,
                "oid": mailbox.id,
                "preferred_username": mailbox.email,
                "sub": hashlib.sha256(mailbox.id.encode()).hexdigest()[:43],
                "tid": self.tenant_id,
                "ver": "2.0",
            }
            if nonce:
                claims["nonce"] = nonce
            answer["id_token"] = unsigned_jwt(claims)
        if client_info:
            answer["client_info"] = b64url({"uid": mailbox.id, "utid": self.tenant_id})
        return answer

    def _token(self, request: Recorded, tenant):
        if not self._tenant_ok(tenant):
            return Reply(
                400, self._oauth_error("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
            )
        form = request.body if isinstance(request.body, dict) else {}
        if form.get("client_id") != self.client_id:
            return Reply(
                400,
                self._oauth_error(
                    "unauthorized_client", 700016, "Application not found in the directory."
                ),
            )
        if form.get("client_secret") != self.client_secret:
            return Reply(
                401, self._oauth_error("invalid_client", 7000215, "Invalid client secret provided.")
            )
        client_info = form.get("client_info") == "1"
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = self.codes.get(form.get("code", ""))
            if entry is None:
                return Reply(
                    400,
                    self._oauth_error("invalid_grant", 9002313, "Invalid request. Malformed code."),
                )
            if entry["used"]:
                return Reply(
                    400,
                    self._oauth_error(
                        "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."
                    ),
                )
            if time.time() - entry["issued"] > 600:
                return Reply(
                    400,
                    self._oauth_error(
                        "invalid_grant", 70008, "The authorization code has expired."
                    ),
                )
            if form.get("redirect_uri") != entry["redirect_uri"]:
                return Reply(
                    400,
                    self._oauth_error(
                        "invalid_grant",
                        50011,
                        "The redirect URI specified in the request does not match.",
                    ),
                )
            if entry["code_challenge"]:
                verifier = form.get("code_verifier") or ""
                expected = (
                    pkce_s256(verifier) if entry["code_challenge_method"] == "S256" else verifier
                )
                if not verifier or expected != entry["code_challenge"]:
                    return Reply(
                        400,
                        self._oauth_error(
                            "invalid_grant",
                            501481,
                            "The Code_Verifier does not match the code_challenge supplied in "
                            "the authorization request.",
                        ),
                    )
            entry["used"] = True
            return Reply(
                200,
                self._issue(
                    entry["email"], entry["scopes"], nonce=entry["nonce"], client_info=client_info
                ),
            )
        if grant == "refresh_token":
            info = self.refresh_tokens.get(form.get("refresh_token", ""))
            if info is None:
                return Reply(
                    400,
                    self._oauth_error(
                        "invalid_grant", 9002313, "Invalid request. Malformed token."
                    ),
                )
            if info["revoked"]:
                body = self._oauth_error(
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth "
                    "token is needed.",
                )
                body["suberror"] = "bad_token"
                return Reply(400, body)
            scopes = form.get("scope", "").split() or info["scopes"]
            return Reply(200, self._issue(info["email"], scopes, client_info=client_info))
        return Reply(
            400,
            self._oauth_error(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            ),
        )

    # -- Graph -------------------------------------------------------------------------------

    def _bearer(self, request: Recorded, scopes: set[str] | None):
        info = self.access_tokens.get(request.bearer or "")
        if info is None:
            reply = self.error_reply("graph", 401, None)
            reply.payload = graph_error(
                "InvalidAuthenticationToken", "IDX14100: JWT is not well formed."
            )
            return None, None, reply
        if info["revoked"] or info["expires_at"] <= time.time():
            return None, None, self.error_reply("graph", 401, None)
        if scopes is not None and not scopes & info["scopes"]:
            return None, None, self.error_reply("graph", 403, None)
        return info, self.mailbox(info["email"]), None

    def _can_read(self, reader: str, mailbox: Mailbox) -> bool:
        reader, owner = reader.lower(), mailbox.email.lower()
        if reader == owner or reader in mailbox.shared_with:
            return True
        return not mailbox.private and reader.split("@")[-1] == owner.split("@")[-1]

    def _me(self, request: Recorded):
        _info, mailbox, error = self._bearer(request, {"User.Read", "User.ReadBasic.All"})
        if error:
            return error
        return Reply(
            200,
            {
                "@odata.context": f"{self.base_url}/v1.0/$metadata#users/$entity",
                "id": mailbox.id,
                "displayName": mailbox.display_name,
                "mail": mailbox.email,
                "userPrincipalName": mailbox.email,
                "businessPhones": [],
                "givenName": mailbox.display_name.split(" ")[0],
                "surname": None,
                "jobTitle": None,
                "officeLocation": None,
                "preferredLanguage": "en-US",
                "mobilePhone": None,
            },
        )

    def _calendar(self, request: Recorded):
        _info, mailbox, error = self._bearer(request, CALENDAR_SCOPES)
        if error:
            return error
        return Reply(
            200,
            {
                "id": mailbox.calendar_id,
                "name": "Calendar",
                "canEdit": True,
                "owner": {"name": mailbox.display_name, "address": mailbox.email},
                "allowedOnlineMeetingProviders": ["teamsForBusiness"],
                "defaultOnlineMeetingProvider": "teamsForBusiness",
            },
        )

    def _get_schedule(self, request: Recorded):
        _info, me, error = self._bearer(request, CALENDAR_SCOPES)
        if error:
            return error
        body = request.json
        if not isinstance(body, dict):
            return Reply(400, graph_error("BadRequest", "Empty Payload. JSON content expected."))
        schedules = body.get("schedules")
        if not isinstance(schedules, list) or not schedules:
            return Reply(400, graph_error("ErrorInvalidParameter", "schedules is required."))
        if len(schedules) > self.max_schedules:
            return Reply(
                400,
                graph_error(
                    "ErrorInvalidParameter",
                    f"The number of schedules ({len(schedules)}) exceeds the maximum of "
                    f"{self.max_schedules}.",
                ),
            )
        try:
            start = parse_graph_time(body["startTime"])
            end = parse_graph_time(body["endTime"])
        except (KeyError, TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError):
            return Reply(400, graph_error("ErrorInvalidParameter", "startTime/endTime invalid."))
        if end <= start or end - start >= MAX_WINDOW:
            return Reply(
                400,
                graph_error(
                    "ErrorInvalidTimeInterval" if end <= start else "ErrorInvalidParameter",
                    "The time range must be positive and shorter than 62 days.",
                ),
            )
        interval = int(body.get("availabilityViewInterval") or 30)
        if not 5 <= interval <= 1440:
            return Reply(
                400, graph_error("ErrorInvalidParameter", "availabilityViewInterval out of range.")
            )
        zone = _prefer_zone(request)
        values = []
        for schedule in schedules:
            mailbox = self.mailboxes.get(str(schedule).lower())
            if mailbox is None:
                values.append(
                    {
                        "scheduleId": schedule,
                        "availabilityView": "",
                        "error": {
                            "message": "Failed to resolve recipient",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            if not self._can_read(me.email, mailbox):
                values.append(
                    {
                        "scheduleId": schedule,
                        "availabilityView": "",
                        "error": {
                            "message": "Free/busy information is not shared with you.",
                            "responseCode": "ErrorNoFreeBusyAccess",
                        },
                    }
                )
                continue
            items = [
                item
                for item in mailbox.schedule_items()
                if item["start"] < end and item["end"] > start
            ]
            view = ""
            slot = start
            while slot < end:
                slot_end = slot + datetime.timedelta(minutes=interval)
                statuses = [
                    item["status"].lower()
                    for item in items
                    if item["start"] < slot_end and item["end"] > slot
                ]
                best = max(statuses, key=STATUS_RANK.index, default="free")
                view += STATUS_DIGITS.get(best, "2")
                slot = slot_end
            values.append(
                {
                    "scheduleId": schedule,
                    "availabilityView": view,
                    "scheduleItems": [
                        {
                            "isPrivate": False,
                            "status": item["status"],
                            "subject": item.get("subject", ""),
                            "location": item.get("location", ""),
                            "isMeeting": False,
                            "isRecurring": False,
                            "isException": False,
                            "isReminderSet": False,
                            "start": graph_time(item["start"], zone),
                            "end": graph_time(item["end"], zone),
                        }
                        for item in sorted(items, key=lambda i: i["start"])
                    ],
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": zone},
                    },
                }
            )
        return Reply(
            200,
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection("
                "microsoft.graph.scheduleInformation)",
                "value": values,
            },
        )

    def _render(self, event, request):
        zone = _prefer_zone(request)
        rendered = copy.deepcopy(event)
        for key in ("start", "end"):
            rendered[key] = graph_time(parse_graph_time(event[key]), zone)
        return rendered

    def _notify(self, action, mailbox, event):
        recipients = [
            a["emailAddress"]["address"]
            for a in event.get("attendees") or []
            if a.get("emailAddress", {}).get("address", "").lower() != mailbox.email.lower()
        ]
        if recipients:
            self.notifications.append(
                {
                    "action": action,
                    "mailbox": mailbox.email,
                    "event_id": event["id"],
                    "recipients": recipients,
                }
            )

    def _validate_event(self, body, *, partial):
        for name in ("start", "end"):
            if name not in body:
                if partial:
                    continue
                return Reply(400, graph_error("ErrorInvalidRequest", f"{name} is required."))
            try:
                parse_graph_time(body[name])
            except (KeyError, TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError):
                return Reply(
                    400,
                    graph_error(
                        "TimeZoneNotSupportedException"
                        if isinstance(body[name], dict) and body[name].get("timeZone")
                        else "ErrorInvalidRequest",
                        f"Invalid {name}.",
                    ),
                )
        return None

    def _attendees(self, attendees, previous=()):
        responses = {
            a["emailAddress"]["address"].lower(): a.get("status")
            for a in previous
            if a.get("emailAddress", {}).get("address")
        }
        result = []
        for attendee in attendees or []:
            address = (attendee.get("emailAddress") or {}).get("address")
            if not address:
                continue
            result.append(
                {
                    "type": attendee.get("type", "required"),
                    "status": responses.get(address.lower())
                    or {"response": "none", "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {
                        "name": attendee["emailAddress"].get("name") or address,
                        "address": address,
                    },
                }
            )
        return result

    def _create(self, request: Recorded, cid=None):
        _info, mailbox, error = self._bearer(request, WRITE_SCOPES)
        if error:
            return error
        if cid is not None and cid != mailbox.calendar_id:
            return self.error_reply("graph", 404, None)
        body = request.json
        if not isinstance(body, dict):
            return Reply(400, graph_error("BadRequest", "Empty Payload. JSON content expected."))
        error = self._validate_event(body, partial=False)
        if error:
            return error
        transaction = body.get("transactionId")
        if transaction and transaction in mailbox.transactions:
            existing = mailbox.events.get(mailbox.transactions[transaction])
            if existing is not None and not existing.get("isCancelled"):
                return Reply(201, self._render(existing, request))
        event_id = "AAMkAGI2THVSAAA" + secrets.token_urlsafe(48) + "="
        now = now_utc().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "0000Z"
        online = bool(body.get("isOnlineMeeting"))
        event = {
            "@odata.etag": f'W/"{secrets.token_urlsafe(12)}"',
            "id": event_id,
            "createdDateTime": now,
            "lastModifiedDateTime": now,
            "changeKey": secrets.token_urlsafe(12),
            "categories": [],
            "transactionId": transaction,
            "originalStartTimeZone": body["start"].get("timeZone", "UTC"),
            "originalEndTimeZone": body["end"].get("timeZone", "UTC"),
            "iCalUId": "040000008200E00074C5B7101A82E008" + secrets.token_hex(24).upper(),
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": True,
            "hasAttachments": False,
            "subject": body.get("subject", ""),
            "bodyPreview": ((body.get("body") or {}).get("content") or "")[:255],
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": False,
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": True,
            "showAs": body.get("showAs", "busy"),
            "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={quote(event_id, safe='')}"
            "&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": online,
            "onlineMeetingProvider": body.get("onlineMeetingProvider", "unknown")
            if online
            else "unknown",
            "allowNewTimeProposals": body.get("allowNewTimeProposals", True),
            "isDraft": False,
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "body": body.get("body") or {"contentType": "html", "content": ""},
            "start": body["start"],
            "end": body["end"],
            "location": body.get("location") or {"displayName": ""},
            "attendees": self._attendees(body.get("attendees")),
            "organizer": {"emailAddress": {"name": mailbox.display_name, "address": mailbox.email}},
            "onlineMeeting": self._teams() if online else None,
        }
        mailbox.events[event_id] = event
        if transaction:
            mailbox.transactions[transaction] = event_id
        self._notify("created", mailbox, event)
        return Reply(201, self._render(event, request))

    @staticmethod
    def _teams():
        meeting = secrets.token_urlsafe(24)
        return {
            "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{meeting}"
            "%40thread.v2/0?context=%7b%22Tid%22%3a%22fake%22%7d",
            "conferenceId": str(secrets.randbelow(10**9)),
            "tollNumber": "+1 323-555-0166",
        }

    def _find(self, request, eid, scopes):
        _info, mailbox, error = self._bearer(request, scopes)
        if error:
            return None, None, error
        event = mailbox.events.get(eid)
        if event is None or event.get("isCancelled"):
            return None, None, self.error_reply("graph", 404, None)
        return mailbox, event, None

    def _list(self, request: Recorded):
        _info, mailbox, error = self._bearer(request, CALENDAR_SCOPES)
        if error:
            return error
        return Reply(
            200,
            {
                "@odata.context": f"{self.base_url}/v1.0/$metadata#users('{mailbox.id}')/events",
                "value": [
                    self._render(event, request)
                    for event in mailbox.events.values()
                    if not event.get("isCancelled")
                ],
            },
        )

    def _get(self, request: Recorded, eid):
        _mailbox, event, error = self._find(request, eid, CALENDAR_SCOPES)
        if error:
            return error
        return Reply(200, self._render(event, request))

    def _update(self, request: Recorded, eid):
        mailbox, event, error = self._find(request, eid, WRITE_SCOPES)
        if error:
            return error
        body = request.json
        if not isinstance(body, dict):
            return Reply(400, graph_error("BadRequest", "Empty Payload. JSON content expected."))
        error = self._validate_event(body, partial=True)
        if error:
            return error
        if event.get("isOnlineMeeting") and body.get("isOnlineMeeting") is False:
            return Reply(
                400,
                graph_error("ErrorInvalidRequest", "An online meeting cannot be turned off."),
            )
        for key, value in body.items():
            if key in ("id", "iCalUId", "organizer", "createdDateTime", "transactionId"):
                continue
            if key == "attendees":
                value = self._attendees(value, previous=event.get("attendees") or ())
            event[key] = value
        if body.get("isOnlineMeeting") and not event.get("onlineMeeting"):
            event["onlineMeeting"] = self._teams()
            event["onlineMeetingProvider"] = body.get("onlineMeetingProvider", "teamsForBusiness")
        event["lastModifiedDateTime"] = now_utc().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "0000Z"
        event["changeKey"] = secrets.token_urlsafe(12)
        self._notify("updated", mailbox, event)
        return Reply(200, self._render(event, request))

    def _delete(self, request: Recorded, eid):
        mailbox, event, error = self._find(request, eid, WRITE_SCOPES)
        if error:
            return error
        event["isCancelled"] = True
        self._notify("cancelled", mailbox, event)
        return Reply(204)

"""A stateful fake of Marketo Engage's Identity and REST lead APIs on loopback (plain HTTP).

Wire formats follow integrations.md §2 and §5.7:

- ``GET|POST /identity/oauth/token?grant_type=client_credentials&client_id=…&client_secret=…``:
  the same token until it expires (``expires_in`` = remaining lifespan; ``token_lifetime``
  seconds when new), HTTP 401 for bad credentials.
- REST calls need ``Authorization: Bearer <token>``; errors come in the HTTP 200 envelope:
  601 for a missing/unknown token (and for any ``access_token`` in the query string), 602 for an
  expired one, 606 past ``rate_calls`` accepted calls in any ``window`` seconds (sliding), 615
  past ``max_concurrent`` calls in flight. Calls answered with an error are not counted.
- ``GET /rest/v1/leads/describe.json``; ``GET /rest/v1/leads.json`` (filterType, filterValues
  ≤ 300, fields, batchSize, nextPageToken/moreResult); ``POST /rest/v1/leads.json`` Sync Leads
  (createOnly/updateOnly/createOrUpdate/createDuplicate, ≤ 300 records, record-level
  ``skipped`` with 1003 invalid data, 1004 not found, 1005 exists, 1006 unknown field) or, with
  ``_method=GET``, Get Leads with the parameters in a form body; HTTP 414 when the request line
  is longer than ``max_uri_length`` (8 KB).

Test API (thread-safe)::

    fake = FakeMarketo(rate_calls=10, window=1).start()   # or the ``marketo_fake`` fixture
    fake.settings()                       # WAGTAIL_DYNCHAT["MARKETO"] pointing here
    fake.add_lead(email="a@example.com")  # → the stored lead dict
    fake.fail_code("leads.sync", 606, times=3)    # scripted envelope errors ("*": any route)
    fake.fail("leads.sync", 503)          # HTTP errors / ``delay=`` (see FakeServer.fail)
    fake.delay("leads.sync", 2)           # answer late (client timeouts)
    fake.reset_connections(times=1)       # drop the next connections without an answer
    fake.expire_tokens()                  # every issued token expires now (→ 602)
    fake.latency = 0.05                   # every REST call takes this long (concurrency)
    fake.calls("leads.sync")              # recorded requests
    fake.accepted                         # times of REST calls counted against the rate
    fake.max_calls_in_window(), fake.max_in_flight, fake.rejected[606]

Routes: ``identity``, ``leads.describe``, ``leads.get``, ``leads.sync`` (POST, also with
``_method=GET``, answered as Get Leads).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from bisect import bisect_left
from collections import Counter, deque

import pytest

from . import FakeServer, Recorded, Reply
from .marketo_activities import ActivitiesMixin
from .marketo_bulk import BulkExtractMixin
from .marketo_companies import CompaniesMixin
from .marketo_identity import IdentityMixin

MESSAGES = {
    "601": "Access token invalid",
    "602": "Access token expired",
    "603": "Access denied",
    "604": "Request timed out",
    "606": "Max rate limit '%s' exceeded with in '%s' secs",
    "607": "Daily quota reached",
    "608": "API Temporarily Unavailable",
    "609": "Invalid JSON",
    "610": "Requested resource not found",
    "611": "System error",
    "615": "Concurrent access limit reached",
    "1029": "Export daily quota exceeded",
}

# (rest name, display name, data type, length or None, read only)
FIELDS = [
    ("id", "Id", "integer", None, True),
    ("email", "Email Address", "email", 255, False),
    ("firstName", "First Name", "string", 255, False),
    ("lastName", "Last Name", "string", 255, False),
    ("company", "Company Name", "string", 255, False),
    ("title", "Job Title", "string", 255, False),
    ("phone", "Phone Number", "phone", 255, False),
    ("postalCode", "Postal Code", "string", 255, False),
    ("leadScore", "Lead Score", "integer", None, False),
    # Company fields Marketo copies onto leads, and a field Marketo does not let us write.
    ("industry", "Industry", "string", 255, False),
    ("annualRevenue", "Annual Revenue", "currency", None, False),
    ("sfdcType", "SFDC Type", "string", 255, True),
    ("cookies", "Cookies", "string", 255, False),
    ("createdAt", "Created At", "datetime", None, True),
    ("updatedAt", "Updated At", "datetime", None, True),
]
FIELD_NAMES = {name for name, *_ in FIELDS}
FILTER_TYPES = {"id", "email", "cookies", "firstName", "lastName", "company", "postalCode"}
DEFAULT_FIELDS = ["id", "email", "updatedAt", "createdAt", "firstName", "lastName"]


class FakeMarketo(BulkExtractMixin, ActivitiesMixin, IdentityMixin, CompaniesMixin, FakeServer):
    routes = [
        ("GET", r"/identity/oauth/token", "identity", "identity"),
        ("POST", r"/identity/oauth/token", "identity", "identity"),
        ("GET", r"/rest/v1/leads/describe\.json", "leads.describe", "describe"),
        ("GET", r"/rest/v1/leads\.json", "leads.get", "get_leads"),
        ("POST", r"/rest/v1/leads\.json", "leads.sync", "post_leads"),
        *BulkExtractMixin.ROUTES,
        *ActivitiesMixin.ROUTES,
        *IdentityMixin.ROUTES,
        *CompaniesMixin.ROUTES,
    ]

    def __init__(
        self,
        *,
        client_id="marketo-client",
        client_secret="marketo-secret",
        munchkin_id="123-ABC-456",
        token_lifetime=3600,
        rate_calls=100,
        window=20.0,
        max_concurrent=10,
        max_uri_length=8 * 1024,
    ):
        super().__init__()
        self.client_id, self.client_secret, self.munchkin_id = (
            client_id,
            client_secret,
            munchkin_id,
        )
        self.token_lifetime = token_lifetime
        self.rate_calls, self.window, self.max_concurrent = rate_calls, window, max_concurrent
        self.max_uri_length = max_uri_length
        self.latency = 0.0
        self.tokens: dict[str, float] = {}  # token → expiry time
        self.leads: dict[int, dict] = {}
        self.accepted: list[float] = []
        self.rejected: Counter = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._resets = 0
        self._codes: dict[str, deque] = {}
        self._local = threading.local()
        self._init_bulk()
        self._init_activities()
        self._init_identity()
        self._init_companies()

    # -- test helpers ----------------------------------------------------------------------

    def settings(self) -> dict:
        return {
            "BASE_URL": self.base_url,
            "IDENTITY_URL": f"{self.base_url}/identity",
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "MUNCHKIN_ID": self.munchkin_id,
        }

    def add_lead(self, **fields):
        with self.lock:
            lead_id = max(self.leads, default=0) + 1
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.leads[lead_id] = {"createdAt": stamp, "updatedAt": stamp, **fields, "id": lead_id}
            return self.leads[lead_id]

    def fail_code(self, route, code, *, times=1, message=None):
        """Answer the next ``times`` REST calls to ``route`` ("*": any) with Marketo error
        ``code`` in the 200 envelope (not counted against the rate)."""
        with self.lock:
            queue = self._codes.setdefault(route, deque())
            for _ in range(times):
                queue.append((str(code), message))
        return self

    def reset_connections(self, *, times=1):
        """Drop the next ``times`` connections (any route) without answering (a TCP reset)."""
        with self.lock:
            self._resets += times
        return self

    def expire_tokens(self):
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = time.time() - 1

    def max_calls_in_window(self, window=None) -> int:
        """Most accepted calls in any sliding interval of ``window`` (default: the fake's)."""
        window = self.window if window is None else window
        with self.lock:
            times = sorted(self.accepted)
        return max(
            (i - bisect_left(times, t - window, 0, i) + 1 for i, t in enumerate(times)),
            default=0,
        )

    # -- wire ------------------------------------------------------------------------------

    def error_reply(self, route, status, reason):
        if status == 200:  # a Marketo error in the envelope; ``reason`` is its code
            return self.envelope(errors=[(reason or "611", None)])
        return Reply(status, f"{status} error")

    def not_found(self, request):
        return Reply(404, "Not Found")

    def envelope(self, result=None, errors=None, **extra):
        body = {"requestId": f"{uuid.uuid4().hex[:4]}#{uuid.uuid4().hex[:11]}"}
        if errors:
            body["success"] = False
            body["errors"] = [
                {"code": str(code), "message": message or self._message(str(code))}
                for code, message in errors
            ]
        else:
            body["success"] = True
            body["result"] = [] if result is None else result
        body.update(extra)
        return Reply(200, body)

    def _message(self, code):
        text = MESSAGES.get(code, "Error")
        return text % (self.rate_calls, self.window) if code == "606" else text

    def _handle(self, handler):
        if len(handler.path) > self.max_uri_length:
            self._record_bare(handler, "", 414)
            handler.close_connection = True
            handler.send_response(414)
            handler.send_header("Content-Length", "0")
            handler.send_header("Connection", "close")
            handler.end_headers()
            return
        with self.lock:
            reset = self._resets > 0
            self._resets -= reset
        if reset:
            self._record_bare(handler, "", 0)
            handler.close_connection = True
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()  # RST: the client sees "connection reset"
            return
        rest = not handler.path.startswith("/identity")  # Identity is outside the REST limits
        with self.lock:
            self.in_flight += rest
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._local.in_flight = self.in_flight
        try:
            if self.latency and rest:
                time.sleep(self.latency)
            super()._handle(handler)
        finally:
            with self.lock:
                self.in_flight -= rest

    def _record_bare(self, handler, route, status):
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        with self.lock:
            self.requests.append(
                Recorded(handler.command, handler.path.split("?")[0], {}, {}, "", route, status)
            )

    def guard(self, request: Recorded):
        """Auth, scripted codes, concurrency and rate; a Reply to answer instead, or None."""
        now = time.time()
        if "access_token" in request.query:  # post-deprecation: header only
            return self.envelope(errors=[("601", None)])
        queue = self._codes.get(request.route) or self._codes.get("*")
        if queue:
            return self.envelope(errors=[queue.popleft()])
        token = request.bearer
        if token not in self.tokens:
            return self.envelope(errors=[("601", None)])
        if self.tokens[token] <= now:
            return self.envelope(errors=[("602", None)])
        if getattr(self._local, "in_flight", 0) > self.max_concurrent:
            self.rejected["615"] += 1
            return self.envelope(errors=[("615", None)])
        recent = sum(1 for t in self.accepted if t > now - self.window)
        if recent >= self.rate_calls:
            self.rejected["606"] += 1
            return self.envelope(errors=[("606", None)])
        self.accepted.append(now)
        return None

    # -- handlers (called under self.lock) -------------------------------------------------

    def identity(self, request: Recorded):
        params = {**request.query, **(request.body if isinstance(request.body, dict) else {})}
        if (
            params.get("grant_type") != "client_credentials"
            or params.get("client_id") != self.client_id
            or params.get("client_secret") != self.client_secret
        ):
            return Reply(401, {"error": "unauthorized", "error_description": "Bad credentials"})
        now = time.time()
        live = [(token, exp) for token, exp in self.tokens.items() if exp > now]
        if live:  # the same token until it expires, with its remaining lifespan
            token, expires = live[0]
        else:
            token, expires = f"{uuid.uuid4()}:ab", now + self.token_lifetime
            self.tokens[token] = expires
        return Reply(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": max(0, int(expires - now)),
                "scope": "api@example.com",
            },
        )

    def describe(self, request):
        if reply := self.guard(request):
            return reply
        result = []
        for number, (name, display, data_type, length, read_only) in enumerate(FIELDS, 1):
            item = {"id": number, "displayName": display, "dataType": data_type}
            if length:
                item["length"] = length
            item["rest"] = {"name": name, "readOnly": read_only}
            item["soap"] = {"name": name[:1].upper() + name[1:], "readOnly": read_only}
            result.append(item)
        return self.envelope(result)

    def get_leads(self, request, params=None):
        if reply := self.guard(request):
            return reply
        params = request.query if params is None else params
        filter_type = params.get("filterType")
        if not filter_type or "filterValues" not in params:
            return self.envelope(errors=[("1003", "filterType and filterValues are required")])
        if filter_type not in FILTER_TYPES:
            return self.envelope(errors=[("1003", f"Invalid filterType '{filter_type}'")])
        values = params["filterValues"].split(",")
        if len(values) > 300:
            return self.envelope(errors=[("1003", "Too many filterValues (max 300)")])
        batch_size = min(300, int(params.get("batchSize") or 300))
        start = int(params.get("nextPageToken") or 0)
        if filter_type == "cookies":  # '_mkto_trk' value: match its token part
            values = [value.split("token:")[-1] for value in values]
            # A lead holds every token associated with it, comma-separated.
            hits = [
                lead
                for lead in self.leads.values()
                if set(str(lead.get("cookies") or "").split(",")) & set(values)
            ]
        else:
            hits = [lead for lead in self.leads.values() if str(lead.get(filter_type)) in values]
        if len(hits) > 1000:
            return self.envelope(errors=[("1003", "Too many results match the filter")])
        fields = params.get("fields", "").split(",") if params.get("fields") else DEFAULT_FIELDS
        page = [{k: lead.get(k) for k in ["id", *fields] if k in lead} for lead in hits]
        page = page[start : start + batch_size]
        extra = {}
        if start + batch_size < len(hits):
            extra = {"nextPageToken": str(start + batch_size), "moreResult": True}
        return self.envelope(page, **extra)

    def post_leads(self, request):
        form = request.body if isinstance(request.body, dict) else {}
        if request.query.get("_method") == "GET" or form.get("_method") == "GET":
            if "json" in request.headers.get("content-type", ""):
                return self.envelope(errors=[("612", "Invalid Content Type")])
            params = {k: v for k, v in {**request.query, **form}.items() if k != "_method"}
            return self.get_leads(request, params)
        if reply := self.guard(request):
            return reply
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("input"), list):
            return self.envelope(errors=[("609", None)])
        records = body["input"]
        if len(records) > 300:
            return self.envelope(errors=[("1003", "Batch size exceeds 300")])
        action = body.get("action", "createOrUpdate")
        key = body.get("lookupField", "email")
        return self.envelope([self._sync_one(record, action, key) for record in records])

    def _sync_one(self, record, action, key):
        def skipped(code, message):
            return {"status": "skipped", "reasons": [{"code": code, "message": message}]}

        unknown = sorted(set(record) - FIELD_NAMES)
        if unknown:
            return skipped("1006", f"Field '{unknown[0]}' not found")
        email = record.get("email")
        if email is not None and (
            not isinstance(email, str) or "@" not in email or not email.isascii()
        ):
            return skipped("1003", "Invalid email address")
        value = record.get(key)
        if value in (None, "") and action != "createDuplicate":
            return skipped("1003", f"Value for lookup field '{key}' not found")
        hits = [lead for lead in self.leads.values() if lead.get(key) == value]
        if action == "createDuplicate" or not hits:
            if action == "updateOnly":
                return skipped("1004", "Lead not found")
            lead = self.add_lead(**{k: v for k, v in record.items() if k != "id"})
            return {"id": lead["id"], "status": "created"}
        if action == "createOnly":
            return skipped("1005", "Lead already exists")
        if len(hits) > 1:
            return skipped("1007", "Multiple lead match lookup criteria")
        hits[0].update({k: v for k, v in record.items() if k != "id"})
        hits[0]["updatedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"id": hits[0]["id"], "status": "updated"}


def _merge(settings, value):
    current = dict(getattr(settings, "WAGTAIL_DYNCHAT", None) or {})
    current["MARKETO"] = {**(current.get("MARKETO") or {}), **value}
    settings.WAGTAIL_DYNCHAT = current


@pytest.fixture
def marketo_fake(settings):
    """A started :class:`FakeMarketo` with ``WAGTAIL_DYNCHAT["MARKETO"]`` pointing at it."""
    fake = FakeMarketo().start()
    try:
        _merge(settings, fake.settings())
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "the Marketo fake crashed:\n" + "\n".join(fake.server_errors)

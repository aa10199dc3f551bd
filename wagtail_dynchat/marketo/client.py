"""A small, strict client of the Marketo Engage REST API (integrations.md §2).

- Authentication: ``GET <IDENTITY_URL>/oauth/token?grant_type=client_credentials&client_id=…
  &client_secret=…``; the access token travels only in ``Authorization: Bearer …`` (never in a
  query string), is cached in Django's cache (keyed by client id, as Marketo advises) until
  shortly before ``expires_in``, renewed proactively and, on 601/602, once per request.
- Every REST call goes through the shared :func:`~wagtail_dynchat.marketo.limits.call_slot`.
  Identity calls do not: they are a separate service outside the REST rate limits.
- Retry policy per documented code: 502, 604, 606, 608, 611, 614, 615, 713, 719, HTTP 5xx,
  timeouts and connection resets back off with jitter (bounded attempts, then
  :class:`Transient`); 607 and 1029 raise :class:`QuotaExceeded` at once; anything else raises
  :class:`MarketoError` with Marketo's code and message.
- HTTP 414 (URI over 8 KB): the request is sent again as ``POST …?_method=GET`` with the query
  as a form body; requests whose URL would be that long take that route at once.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from django.core.cache import caches

from ..conf import dynchat_settings
from . import limits
from .errors import AuthError, MarketoError, QuotaExceeded, Transient

AUTH_CODES = frozenset({"601", "602"})
QUOTA_CODES = frozenset({"607", "1029"})
RETRY_CODES = frozenset({"502", "604", "606", "608", "611", "614", "615", "713", "719"})
#: Marketo answers 414 past 8 KB of URI; keep some room for the host and scheme.
MAX_URL_LENGTH = 7 * 1024
#: Values per Get Leads by Filter Type call (documented maximum).
MAX_FILTER_VALUES = 300


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one input record; ``index`` is its position in the caller's list."""

    index: int
    status: str  # created, updated, deleted, skipped, …
    id: int | None = None
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    @property
    def skipped(self):
        return self.status == "skipped"


class MarketoClient:
    def __init__(
        self,
        config=None,
        *,
        session=None,
        cache=None,
        limiter=None,
        max_attempts=5,
        backoff_base=1.0,
        backoff_max=30.0,
        sleep=time.sleep,
    ):
        self.config = {**dynchat_settings.MARKETO, **(config or {})}
        self.base_url = (self.config.get("BASE_URL") or "").rstrip("/")
        self.identity_url = (self.config.get("IDENTITY_URL") or f"{self.base_url}/identity").rstrip(
            "/"
        )
        self.timeout = float(self.config.get("TIMEOUT") or 30)
        self.batch_size = int(self.config.get("BATCH_SIZE") or 300)
        self.session = session or requests.Session()
        self.session.headers.setdefault("Accept-Encoding", "gzip")
        self.cache = cache if cache is not None else caches[dynchat_settings.CACHE_ALIAS]
        self.limiter = limiter
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep

    def is_configured(self):
        return bool(
            self.base_url and self.config.get("CLIENT_ID") and self.config.get("CLIENT_SECRET")
        )

    # -- token -----------------------------------------------------------------------------

    @property
    def _token_key(self):
        return f"dynchat:marketo:token:{self.config.get('CLIENT_ID')}"

    def token(self, *, force=False):
        """A valid access token, from the cache unless ``force`` or close to its expiry."""
        if not force:
            cached = self.cache.get(self._token_key)
            if cached and cached["renew_at"] > time.time():
                return cached["token"]
        return self._fetch_token()

    def _fetch_token(self):
        if not self.is_configured():
            raise AuthError("config", "Marketo is not configured (BASE_URL, CLIENT_ID, SECRET)")
        params = {
            "grant_type": "client_credentials",
            "client_id": self.config["CLIENT_ID"],
            "client_secret": self.config["CLIENT_SECRET"],
        }
        try:
            response = self.session.get(
                f"{self.identity_url}/oauth/token", params=params, timeout=self.timeout
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            raise Transient("identity", f"Marketo Identity unreachable: {error}") from error
        if response.status_code in (400, 401, 403):
            raise AuthError(
                f"HTTP {response.status_code}",
                f"Marketo Identity refused the client credentials: {_short(response)}",
            )
        if response.status_code != 200:
            raise Transient(f"HTTP {response.status_code}", _short(response))
        try:
            data = response.json()
            token, expires_in = data["access_token"], float(data["expires_in"])
        except (ValueError, KeyError, TypeError) as error:
            raise MarketoError(
                "identity", f"unexpected Identity answer: {_short(response)}"
            ) from error
        # Renew a little before expiry: a minute early for a fresh token, a quarter of the
        # remaining lifetime for a short-lived one (Identity returns the same token until it
        # expires, with its remaining lifespan).
        margin = min(60.0, expires_in / 4)
        lifetime = max(0.0, expires_in - margin)
        entry = {"token": token, "renew_at": time.time() + lifetime}
        if lifetime >= 1:
            self.cache.set(self._token_key, entry, int(lifetime))
        else:
            self.cache.delete(self._token_key)
        return token

    def _forget_token(self, token):
        cached = self.cache.get(self._token_key)
        if cached and cached["token"] == token:
            self.cache.delete(self._token_key)

    # -- requests --------------------------------------------------------------------------

    def _slot(self):
        return self.limiter.call_slot() if self.limiter is not None else limits.call_slot()

    def _backoff(self, attempt):
        delay = min(self.backoff_max, self.backoff_base * 2**attempt)
        return delay * random.uniform(0.5, 1.0)

    def request(self, method, path, *, params=None, json=None):
        """One API call with the retry policy; returns the decoded envelope (success true)."""
        if not path.startswith("/"):
            path = "/" + path
        url = self.base_url + path
        method = method.upper()
        as_post_get = False
        if method == "GET" and params:
            as_post_get = len(url) + 1 + len(urlencode(params, doseq=True)) > MAX_URL_LENGTH
        reauthed = False
        attempt = 0
        while True:
            token = self.token()
            headers = {"Authorization": f"Bearer {token}"}
            kwargs = {"headers": headers, "timeout": self.timeout}
            if as_post_get:
                kwargs.update(params={"_method": "GET"}, data=params)
                send_method = "POST"
            else:
                kwargs.update(params=params, json=json)
                send_method = method
            code = message = None
            try:
                with self._slot():
                    response = self.session.request(send_method, url, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as error:
                code, message = "network", f"{type(error).__name__}: {error}"
            else:
                status = response.status_code
                if status == 414 and method == "GET" and not as_post_get:
                    as_post_get = True  # URI too long: the documented POST + _method=GET route
                    continue
                if status >= 500:
                    code, message = f"HTTP {status}", _short(response)
                elif status != 200:
                    raise MarketoError(f"HTTP {status}", _short(response))
                else:
                    try:
                        body = response.json()
                    except ValueError as error:
                        raise MarketoError("invalid", _short(response)) from error
                    if body.get("success"):
                        return body
                    errors = body.get("errors") or [{"code": "unknown", "message": str(body)}]
                    code = str(errors[0].get("code"))
                    message = str(errors[0].get("message", ""))
                    if code in AUTH_CODES:
                        if reauthed:
                            raise AuthError(code, message)
                        reauthed = True
                        self._forget_token(token)
                        continue
                    if code in QUOTA_CODES:
                        raise QuotaExceeded(code, message)
                    if code not in RETRY_CODES:
                        raise MarketoError(code, message)
            attempt += 1
            if attempt >= self.max_attempts:
                raise Transient(code, f"{message} (gave up after {attempt} attempts)")
            self.sleep(self._backoff(attempt - 1))

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, json=None):
        return self.request("POST", path, json=json)

    # -- leads -----------------------------------------------------------------------------

    def describe_leads(self):
        """Lead fields (``rest.name``, ``dataType``, ``length``, ``rest.readOnly``…)."""
        return self.get("/rest/v1/leads/describe.json").get("result") or []

    def sync_leads(self, records, lookup_field="email", action="createOrUpdate"):
        """Create/update leads in batches of BATCH_SIZE; one RecordResult per input record, in
        input order (``skipped`` records carry Marketo's reasons)."""
        records = list(records)
        results = []
        for start in range(0, len(records), self.batch_size):
            batch = records[start : start + self.batch_size]
            body = self.post(
                "/rest/v1/leads.json",
                {"action": action, "lookupField": lookup_field, "input": batch},
            )
            results.extend(_record_results(body.get("result") or [], start, len(batch)))
        return results

    def get_leads_by_filter(self, filter_type, values, fields=None, *, batch_size=None):
        """Leads whose ``filter_type`` is one of ``values`` (chunks of 300 values, every page);
        long value lists go as ``POST …?_method=GET``."""
        values = [str(value) for value in values]
        leads = []
        for start in range(0, len(values), MAX_FILTER_VALUES):
            params = {
                "filterType": filter_type,
                "filterValues": ",".join(values[start : start + MAX_FILTER_VALUES]),
            }
            if fields:
                params["fields"] = ",".join(fields)
            if batch_size:
                params["batchSize"] = int(batch_size)
            while True:
                body = self.get("/rest/v1/leads.json", params)
                leads.extend(body.get("result") or [])
                if not (body.get("moreResult") and body.get("nextPageToken")):
                    break
                params = {**params, "nextPageToken": body["nextPageToken"]}
        return leads

    # -- raw downloads ---------------------------------------------------------------------

    def download(self, path, *, headers=None):
        """GET a raw resource such as a bulk export file (not the JSON envelope), with the
        token, the shared rate budget and the retry policy of :meth:`request`; returns the
        response (200 or 206) with its body read. A Marketo error in an envelope raises as in
        :meth:`request`; any other HTTP 4xx (404 while an export is not completed) raises
        :class:`MarketoError` with code ``"HTTP <status>"`` and Marketo's plain-text answer."""
        url = self.base_url + ("" if path.startswith("/") else "/") + path
        reauthed = False
        attempt = 0
        while True:
            token = self.token()
            request_headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
            # Bulk files are served uncompressed; asking for gzip would break byte ranges.
            request_headers["Accept-Encoding"] = "identity"
            try:
                with self._slot():
                    response = self.session.get(url, headers=request_headers, timeout=self.timeout)
                    response.content  # noqa: B018 (read the body inside the call slot)
            except (requests.Timeout, requests.ConnectionError) as error:
                code, message = "network", f"{type(error).__name__}: {error}"
            else:
                status = response.status_code
                if status in (200, 206) and "json" in response.headers.get("Content-Type", ""):
                    body = _json_or_none(response)
                    if isinstance(body, dict) and body.get("success") is False:
                        errors = body.get("errors") or [{"code": "unknown"}]
                        code = str(errors[0].get("code"))
                        message = str(errors[0].get("message", ""))
                        if code in AUTH_CODES and not reauthed:
                            reauthed = True
                            self._forget_token(token)
                            continue
                        if code in AUTH_CODES:
                            raise AuthError(code, message)
                        if code in QUOTA_CODES:
                            raise QuotaExceeded(code, message)
                        if code not in RETRY_CODES:
                            raise MarketoError(code, message)
                    else:
                        return response
                elif status in (200, 206):
                    return response
                elif status >= 500:
                    code, message = f"HTTP {status}", _short(response)
                else:
                    raise MarketoError(f"HTTP {status}", _short(response))
            attempt += 1
            if attempt >= self.max_attempts:
                raise Transient(code, f"{message} (gave up after {attempt} attempts)")
            self.sleep(self._backoff(attempt - 1))


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _record_results(items, offset, expected):
    if len(items) != expected:
        raise MarketoError(
            "result", f"Marketo answered {len(items)} record results for {expected} records"
        )
    results = []
    for position, item in enumerate(items):
        index = offset + int(item["seq"]) if "seq" in item else offset + position
        raw = item.get("reasons") or item.get("errors") or []
        reasons = tuple(Reason(str(r.get("code")), str(r.get("message", ""))) for r in raw)
        results.append(RecordResult(index, item.get("status", ""), item.get("id"), reasons))
    return results


def _short(response, limit=300):
    text = (response.text or "").strip()
    return text[:limit] or response.reason or ""

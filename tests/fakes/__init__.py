"""Loopback fakes of the external APIs, speaking their real HTTP wire protocols.

Each fake is a threaded ``http.server`` on ``127.0.0.1:<free port>`` (TLS when the client
library insists on https, as msal does), holding its state in memory. Our code talks to it
through the real client libraries (httplib2, requests, msal), re-pointed by settings — nothing
of ours is patched.

Shared machinery (this module):

- every request is recorded as a :class:`Recorded` in ``fake.requests`` (method, path, parsed
  query, lower-cased headers, parsed body, the route name and the status answered);
  ``fake.calls("freebusy.query")`` filters them by route;
- ``fake.fail(route, status, times=1, retry_after=None, reason=None, body=None, delay=0)``
  queues scripted failures per route (``"*"`` matches any route), answered in the provider's
  own error format before any other processing; ``fake.delay(route, seconds)`` answers
  normally but late (client timeouts);
- ``fake.server_errors`` collects tracebacks of bugs in the fake itself (answered as 500).

See ``google_calendar.FakeGoogle`` and ``microsoft_graph.FakeMicrosoft`` for the APIs, and
``tests/fakes/fixtures.py`` for the pytest fixtures.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import functools
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

UTC = datetime.UTC

__all__ = [
    "FakeServer",
    "Recorded",
    "Reply",
    "b64url",
    "pkce_s256",
    "tls_files",
    "unsigned_jwt",
]


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str  # without the query string, percent-decoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # dict for JSON and form bodies, str otherwise ("" when empty)
    route: str  # the fake's name for the endpoint, "" when unknown
    status: int = 0  # what the fake answered
    time: float = field(default_factory=time.time)

    @property
    def json(self):
        return self.body if isinstance(self.body, dict | list) else None

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclass
class Reply:
    status: int
    payload: Any = None  # dict/list → JSON, str/bytes → as is, None → empty
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int | None  # None: no failure, only the delay
    reason: str | None
    retry_after: float | int | str | None
    body: Any
    headers: dict[str, str]
    delay: float


class FakeServer:
    """Base class: start/stop, routing, recording and scripted failures."""

    tls = False
    #: (method, regex on the raw path, route name, handler method name)
    routes: list[tuple[str, str, str, str]] = []

    def __init__(self):
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.server_errors: list[str] = []
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._server: ThreadingHTTPServer | None = None
        self._compiled = [
            (method, re.compile(f"^{pattern}$"), route, handler)
            for method, pattern, route, handler in self.routes
        ]

    # -- lifecycle -------------------------------------------------------------------------

    def start(self):
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        server = _Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        if self.tls:
            cert, key, _ca = tls_files()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{server.server_port}",
            daemon=True,
        ).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_port

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # -- test helpers ----------------------------------------------------------------------

    def fail(
        self,
        route: str,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float | int | str | None = None,
        reason: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0,
    ):
        """Answer the next ``times`` requests to ``route`` (or ``"*"``: any route) with
        ``status`` in the provider's error format (``reason`` picks the error reason/code;
        ``body`` replaces the whole body). ``retry_after`` sets a ``Retry-After`` header;
        ``delay`` sleeps that many seconds before answering (timeouts)."""
        with self.lock:
            for _ in range(times):
                self._failures[route].append(
                    _Failure(status, reason, retry_after, body, dict(headers or {}), delay)
                )
        return self

    def delay(self, route: str, seconds: float, *, times: int = 1):
        """Answer the next ``times`` requests to ``route`` normally, but only after ``seconds``
        (to exercise client timeouts)."""
        with self.lock:
            for _ in range(times):
                self._failures[route].append(_Failure(None, None, None, None, {}, seconds))
        return self

    def clear_failures(self):
        with self.lock:
            self._failures.clear()

    def calls(self, route: str | None = None, method: str | None = None) -> list[Recorded]:
        """Recorded requests, optionally only those to ``route`` and/or with ``method``."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (route is None or r.route == route) and (method is None or r.method == method)
            ]

    def clear_requests(self):
        with self.lock:
            self.requests.clear()

    # -- to implement ----------------------------------------------------------------------

    def error_reply(self, route: str, status: int, reason: str | None) -> Reply:
        raise NotImplementedError

    def not_found(self, request: Recorded) -> Reply:
        return self.error_reply(request.route, 404, None)

    # -- dispatch --------------------------------------------------------------------------

    def _resolve(self, method, raw_path):
        for route_method, pattern, route, handler in self._compiled:
            match = pattern.match(raw_path)
            if match and route_method == method:
                params = {key: unquote(value) for key, value in match.groupdict().items()}
                return route, getattr(self, handler), params
        for _method, pattern, route, _handler in self._compiled:
            if pattern.match(raw_path):
                return route, None, {}  # known path, wrong method
        return "", None, {}

    def _handle(self, handler: BaseHTTPRequestHandler):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        split = urlsplit(handler.path)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        body = _parse_body(raw, headers.get("content-type", ""))
        route, method_handler, params = self._resolve(handler.command, split.path)
        request = Recorded(
            method=handler.command,
            path=unquote(split.path),
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            route=route,
        )
        with self.lock:
            self.requests.append(request)
            queue = self._failures.get(route) or self._failures.get("*")
            failure = queue.popleft() if queue else None
        if failure is not None and failure.delay:
            time.sleep(failure.delay)
        if failure is not None and failure.status is not None:
            reply = self._failure_reply(route, failure)
        elif method_handler is None:
            reply = (
                self.not_found(request)
                if not route
                else self.error_reply(route, 405, "methodNotAllowed")
            )
        else:
            try:
                with self.lock:
                    reply = method_handler(request, **params)
            except Exception:  # a bug in the fake: answer 500 and keep the traceback
                self.server_errors.append(traceback.format_exc())
                reply = self.error_reply(route, 500, None)
        request.status = reply.status
        _send(handler, reply)

    def _failure_reply(self, route, failure: _Failure) -> Reply:
        reply = self.error_reply(route, failure.status, failure.reason)
        if failure.body is not None:
            reply.payload = failure.body
        if failure.retry_after is not None:
            reply.headers["Retry-After"] = str(failure.retry_after)
        reply.headers.update(failure.headers)
        return reply


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that gave up (timeout tests) closes its socket before a delayed answer.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeServer
    timeout = 5  # idle keep-alive connections are closed after this

    def log_message(self, format, *args):  # silence the default stderr log
        pass

    def _dispatch(self):
        self.fake._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


def _parse_body(raw: bytes, content_type: str):
    if not raw:
        return ""
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def _send(handler: BaseHTTPRequestHandler, reply: Reply):
    payload = reply.payload
    headers = dict(reply.headers)
    if hasattr(payload, "read"):  # an open file: streamed, its Content-Length set by the fake
        _send_file(handler, reply.status, headers, payload)
        return
    if payload is None or reply.status in (204, 304):
        data = b""
    elif isinstance(payload, bytes):
        data = payload
    elif isinstance(payload, str):
        data = payload.encode()
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        data = json.dumps(payload).encode()
        headers.setdefault("Content-Type", "application/json; charset=UTF-8")
    handler.send_response(reply.status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if reply.status not in (204, 304):
        handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if data:
        handler.wfile.write(data)


def _send_file(handler, status, headers, handle, chunk=256 * 1024):
    remaining = int(headers["Content-Length"])
    try:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        while remaining > 0 and (data := handle.read(min(chunk, remaining))):
            handler.wfile.write(data)
            remaining -= len(data)
    finally:
        handle.close()


# --------------------------------------------------------------------------------------------
# Helpers for the fakes


def b64url(data: bytes | str | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_s256(verifier: str) -> str:
    """The S256 code_challenge of a PKCE code_verifier (RFC 7636 §4.2)."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def unsigned_jwt(claims: dict, kid: str = "fake-key") -> str:
    """A JWT with a dummy signature: neither msal nor our code verify signatures of tokens that
    come straight from the token endpoint over TLS."""
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    return f"{b64url(header)}.{b64url(claims)}.{b64url(secrets.token_bytes(32))}"


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(UTC)


@functools.cache
def tls_files() -> tuple[str, str, str]:
    """(certificate chain, private key, CA certificate) for 127.0.0.1/localhost, made once per
    process with a throw-away CA. Point ``REQUESTS_CA_BUNDLE`` at the CA file to trust it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now_utc()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wagtail-dynchat test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    directory = tempfile.mkdtemp(prefix="dynchat-fake-tls-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    pem = serialization.Encoding.PEM
    paths = [os.path.join(directory, name) for name in ("cert.pem", "key.pem", "ca.pem")]
    with open(paths[0], "wb") as handle:
        handle.write(cert.public_bytes(pem))
    with open(paths[1], "wb") as handle:
        handle.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    with open(paths[2], "wb") as handle:
        handle.write(ca_cert.public_bytes(pem))
    return paths[0], paths[1], paths[2]


class IssuedTokens:
    """For fakes of OAuth providers that keep ``refresh_tokens`` and ``access_tokens`` as
    ``{token: {"email", "revoked", "expires_at", …}}`` under ``self.lock``."""

    def revoke_user(self, email: str):
        """The user withdrew the app's access: every refresh and access token of theirs dies."""
        with self.lock:
            for info in [*self.refresh_tokens.values(), *self.access_tokens.values()]:
                if info["email"].lower() == email.lower():
                    info["revoked"] = True

    def expire_access_tokens(self, email: str | None = None):
        """Access tokens (of ``email``, or all) stop working before their announced expiry."""
        with self.lock:
            for info in self.access_tokens.values():
                if email is None or info["email"].lower() == email.lower():
                    info["expires_at"] = 0

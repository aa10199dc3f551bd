"""pytest fixtures for the loopback fakes. Use them from a test module with::

    from tests.fakes import fixtures as fake_fixtures

    google_fake = fake_fixtures.google_fake          # then request them by name
    microsoft_fake = fake_fixtures.microsoft_fake
    block_network = fake_fixtures.block_network

(or ``pytest_plugins = ["tests.fakes.fixtures"]`` in the root conftest). Assigning them, rather
than ``from … import google_fake``, keeps ruff's F811 quiet about the test arguments.

- ``google_fake``: a started :class:`~tests.fakes.google_calendar.FakeGoogle`, with
  ``WAGTAIL_DYNCHAT["GOOGLE"]`` pointing at it (pytest-django's ``settings`` fixture) and
  ``OAUTHLIB_INSECURE_TRANSPORT=1`` (the fake speaks plain http; oauthlib refuses that
  otherwise).
- ``microsoft_fake``: a started :class:`~tests.fakes.microsoft_graph.FakeMicrosoft` (https), with
  ``WAGTAIL_DYNCHAT["MICROSOFT"]`` pointing at it and ``REQUESTS_CA_BUNDLE`` trusting its CA.
- ``block_network``: any socket connect outside loopback fails the test.
- :func:`connect_google` / :func:`connect_microsoft`: a connected :class:`Tokens` bundle for an
  e-mail through the real OAuth round trip (authorization URL → fake consent → code exchange).
"""

from __future__ import annotations

import socket

import pytest

from .google_calendar import FakeGoogle
from .microsoft_graph import FakeMicrosoft

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
REDIRECT_URI = "https://testserver/admin/dynchat/calendar/callback/"


def _merge(settings, key, value):
    current = dict(getattr(settings, "WAGTAIL_DYNCHAT", None) or {})
    current[key] = {**(current.get(key) or {}), **value}
    settings.WAGTAIL_DYNCHAT = current


@pytest.fixture
def google_fake(settings, monkeypatch):
    fake = FakeGoogle().start()
    try:
        _merge(settings, "GOOGLE", fake.settings())
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "the Google fake crashed:\n" + "\n".join(fake.server_errors)


@pytest.fixture
def microsoft_fake(settings, monkeypatch):
    fake = FakeMicrosoft().start()
    try:
        _merge(settings, "MICROSOFT", fake.settings())
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "the Microsoft fake crashed:\n" + "\n".join(fake.server_errors)


@pytest.fixture
def block_network(monkeypatch):
    """Fail loudly on any connect that is not to loopback (or a unix socket)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if host not in LOOPBACK:
                raise RuntimeError(f"network access attempted in a test: {address!r}")

    def connect(self, address, *args, **kwargs):
        check(self, address)
        return real_connect(self, address, *args, **kwargs)

    def connect_ex(self, address, *args, **kwargs):
        check(self, address)
        return real_connect_ex(self, address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def connect_google(fake: FakeGoogle, email: str, redirect_uri: str = REDIRECT_URI):
    """Tokens for ``email`` through the full Google round trip against ``fake``."""
    from wagtail_dynchat.meetings.providers import google

    url, flow = google.authorization_url(redirect_uri, state="state-" + email)
    return google.finish(redirect_uri, flow, fake.sign_in(url, email))


def connect_microsoft(fake: FakeMicrosoft, email: str, redirect_uri: str = REDIRECT_URI):
    """Tokens for ``email`` through the full Microsoft round trip against ``fake``."""
    from wagtail_dynchat.meetings.providers import microsoft

    url, flow = microsoft.authorization_url(redirect_uri, state="state-" + email)
    return microsoft.finish(redirect_uri, flow, fake.sign_in(url, email))

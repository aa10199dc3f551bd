"""The calendar providers against loopback fakes that speak Google's and Microsoft's protocols.

Nothing of ours is patched: the real client libraries (google-auth-oauthlib, httplib2,
google-api-python-client, msal, requests) talk HTTP to ``tests/fakes`` through the settings.
Any connect outside loopback fails the test (``block_network``).
"""

import datetime
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.fakes import fixtures as fake_fixtures
from tests.fakes.fixtures import REDIRECT_URI, connect_google, connect_microsoft
from wagtail_dynchat.meetings.providers import (
    EventSpec,
    ProviderError,
    ReauthRequired,
    Throttled,
    Transient,
    get_provider,
    google,
    microsoft,
)

# The fakes' fixtures (tests/fakes/fixtures.py), requested by name below.
block_network = fake_fixtures.block_network
google_fake = fake_fixtures.google_fake
microsoft_fake = fake_fixtures.microsoft_fake

UTC = datetime.UTC
DAY = datetime.datetime(2026, 3, 2, tzinfo=UTC)
START, END = DAY, DAY + datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def _offline(block_network):
    yield


def at(hour, minute=0):
    return DAY + datetime.timedelta(hours=hour, minutes=minute)


def spec(**overrides):
    values = {
        "summary": "Demo with Acme",
        "description": "Booked in the chat.",
        "start": at(12),
        "end": at(12, 30),
        "attendees": ["visitor@acme.test"],
        "online_meeting": True,
        "time_zone": "Europe/Paris",
    }
    values.update(overrides)
    return EventSpec(**values)


def query_of(url):
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}


def test_network_guard_blocks_non_loopback():
    with (
        socket.socket() as sock,
        pytest.raises(RuntimeError, match="network access attempted"),
    ):
        sock.connect(("192.0.2.1", 443))


def test_get_provider():
    assert get_provider("google") is google
    assert get_provider("microsoft") is microsoft
    with pytest.raises(ValueError):
        get_provider("yahoo")


def test_event_spec_must_be_aware_and_positive():
    with pytest.raises(ValueError):
        spec(start=datetime.datetime(2026, 3, 2, 12))
    with pytest.raises(ValueError):
        spec(end=at(11))


# ============================================================================================
# Google


class TestGoogleOAuth:
    def test_round_trip(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="s-123")
        params = query_of(url)
        assert url.startswith(google_fake.settings()["AUTH_URI"])
        assert params["state"] == "s-123" == flow["state"]
        assert params["access_type"] == "offline"
        assert params["prompt"] == "consent"
        assert params["include_granted_scopes"] == "true"
        assert params["code_challenge_method"] == "S256"
        assert set(params["scope"].split()) == set(google.SCOPES)
        assert flow["code_verifier"] and flow["redirect_uri"] == REDIRECT_URI

        answer = google_fake.sign_in(url, "ann@example.com")
        tokens = google.finish(REDIRECT_URI, flow, answer)

        assert tokens.account == "ann@example.com"
        assert tokens.access_token.startswith("ya29.")
        assert tokens.refresh_token.startswith("1//")
        assert tokens.expires_at > datetime.datetime.now(UTC) + datetime.timedelta(minutes=50)
        (exchange,) = google_fake.calls("token")
        assert exchange.body["grant_type"] == "authorization_code"
        assert exchange.body["code_verifier"] == flow["code_verifier"]
        assert exchange.body["redirect_uri"] == REDIRECT_URI

    def test_account_from_userinfo_without_id_token(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        scopes = [google.USERINFO_EMAIL, google.CALENDAR_EVENTS, google.CALENDAR_FREEBUSY]
        answer = google_fake.sign_in(url, "ann@example.com", granted_scopes=scopes)
        assert google.finish(REDIRECT_URI, flow, answer).account == "ann@example.com"
        assert len(google_fake.calls("userinfo")) == 1

    def test_wider_scopes_granted_earlier_are_accepted(self, google_fake):
        # include_granted_scopes=true: Google adds what the user granted before, which makes
        # oauthlib raise "Scope has changed" unless handled.
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        answer = google_fake.sign_in(
            url,
            "ann@example.com",
            granted_scopes=[*google.SCOPES, "https://www.googleapis.com/auth/drive.file"],
        )
        assert google.finish(REDIRECT_URI, flow, answer).account == "ann@example.com"

    def test_unticked_calendar_permission(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        answer = google_fake.sign_in(
            url, "ann@example.com", granted_scopes=["openid", google.USERINFO_EMAIL]
        )
        with pytest.raises(ProviderError) as error:
            google.finish(REDIRECT_URI, flow, answer)
        assert error.value.code == "insufficient_scope"

    def test_state_mismatch(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="mine")
        answer = google_fake.sign_in(url, "ann@example.com")
        answer["state"] = "someone-elses"
        with pytest.raises(ProviderError) as error:
            google.finish(REDIRECT_URI, flow, answer)
        assert error.value.code == "state_mismatch"
        assert google_fake.calls("token") == []

    def test_access_denied(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        with pytest.raises(ProviderError) as error:
            google.finish(REDIRECT_URI, flow, google_fake.sign_in(url, deny=True))
        assert error.value.code == "access_denied"
        assert "cancelled" in error.value.message

    def test_pkce_verifier_is_checked(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        answer = google_fake.sign_in(url, "ann@example.com")
        wrong = {**flow, "code_verifier": "x" * 64}
        with pytest.raises(ProviderError) as error:
            google.finish(REDIRECT_URI, wrong, answer)
        assert error.value.code == "invalid_grant"
        assert google_fake.calls("token")[-1].status == 400
        # The code was not redeemed: the real verifier still works.
        assert google.finish(REDIRECT_URI, flow, answer).account == "ann@example.com"

    def test_token_endpoint_outage_during_sign_in_is_transient(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        answer = google_fake.sign_in(url, "ann@example.com")
        google_fake.fail("token", 503)
        with pytest.raises(Transient):
            google.finish(REDIRECT_URI, flow, answer)

    def test_code_is_single_use(self, google_fake):
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        answer = google_fake.sign_in(url, "ann@example.com")
        google.finish(REDIRECT_URI, flow, answer)
        with pytest.raises(ProviderError) as error:
            google.finish(REDIRECT_URI, flow, answer)
        assert error.value.code == "invalid_grant"

    def test_refresh_of_an_expired_token(self, google_fake):
        tokens = connect_google(google_fake, "ann@example.com")
        old_access, old_refresh = tokens.access_token, tokens.refresh_token
        assert google.refresh(tokens) is tokens
        assert google_fake.calls("token")[-1].body["grant_type"] == "authorization_code"

        tokens.expires_at = datetime.datetime.now(UTC) - datetime.timedelta(minutes=1)
        refreshed = google.refresh(tokens)
        assert refreshed is tokens
        assert tokens.access_token != old_access
        assert tokens.refresh_token == old_refresh  # Google's refresh answer has none
        assert tokens.expires_at > datetime.datetime.now(UTC)
        refresh_call = google_fake.calls("token")[-1]
        assert refresh_call.body["grant_type"] == "refresh_token"
        assert refresh_call.body["refresh_token"] == old_refresh

    def test_expired_token_is_refreshed_before_a_call(self, google_fake):
        tokens = connect_google(google_fake, "ann@example.com")
        tokens.expires_at = datetime.datetime.now(UTC) - datetime.timedelta(seconds=5)
        google_fake.clear_requests()
        assert google.free_busy(tokens, ["ann@example.com"], START, END) == {"ann@example.com": []}
        assert [r.route for r in google_fake.requests] == ["token", "freebusy.query"]

    def test_revoked_refresh_token(self, google_fake):
        tokens = connect_google(google_fake, "ann@example.com")
        google_fake.revoke_user("ann@example.com")
        with pytest.raises(ReauthRequired) as error:
            google.refresh(tokens, force=True)
        assert error.value.code == "invalid_grant"
        # A call with the (now dead) access token: 401, refresh refused → ReauthRequired.
        with pytest.raises(ReauthRequired):
            google.free_busy(tokens, ["ann@example.com"], START, END)

    def test_revoke(self, google_fake):
        tokens = connect_google(google_fake, "ann@example.com")
        google.revoke(tokens)
        assert google_fake.calls("revoke")[-1].body["token"] == tokens.refresh_token
        with pytest.raises(ReauthRequired):
            google.refresh(tokens, force=True)
        google.revoke(tokens)  # already revoked: still fine

    def test_browser_consent_redirects_back(self, google_fake):
        # What a browser sees (the admin's connect button in browser tests).
        url, flow = google.authorization_url(REDIRECT_URI, state="s")
        google_fake.default_user = "ann@example.com"
        response = requests.get(url, allow_redirects=False, timeout=5)
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith(REDIRECT_URI + "?")
        tokens = google.finish(REDIRECT_URI, flow, query_of(location))
        assert tokens.account == "ann@example.com"


class TestGoogleCalendar:
    @pytest.fixture
    def tokens(self, google_fake):
        return connect_google(google_fake, "ann@example.com")

    def test_free_busy_for_three_calendars_is_one_call(self, google_fake, tokens):
        google_fake.add_busy("bob@example.com", at(10), at(11))
        google_fake.add_busy("bob@example.com", at(10, 30), at(12))  # overlapping: merged
        google_fake.add_busy("bob@example.com", DAY - datetime.timedelta(hours=2), at(1))
        google_fake.add_calendar("carol@example.com", private=True)  # not shared with ann
        google_fake.add_busy("carol@example.com", at(9), at(10))
        google_fake.clear_requests()

        busy = google.free_busy(
            tokens, ["ann@example.com", "bob@example.com", "carol@example.com"], START, END
        )

        assert busy == {
            "ann@example.com": [],
            "bob@example.com": [(START, at(1)), (at(10), at(12))],
            "carol@example.com": None,
        }
        (call,) = google_fake.calls("freebusy.query")
        assert call.path == "/calendar/v3/freeBusy"
        assert call.json["items"] == [
            {"id": "ann@example.com"},
            {"id": "bob@example.com"},
            {"id": "carol@example.com"},
        ]
        assert call.json["timeMin"] == "2026-03-02T00:00:00Z"
        assert call.bearer == tokens.access_token

    def test_unknown_calendar_and_events_count_as_busy(self, google_fake, tokens):
        google.create_event(tokens, "primary", spec(online_meeting=False), "booking-1")
        busy = google.free_busy(tokens, ["ann@example.com", "ghost@elsewhere.test"], START, END)
        assert busy == {"ann@example.com": [(at(12), at(12, 30))], "ghost@elsewhere.test": None}

    def test_more_than_50_calendars_are_split(self, google_fake, tokens):
        emails = [f"agent{n}@example.com" for n in range(60)]
        for email in emails:
            google_fake.add_calendar(email)
        busy = google.free_busy(tokens, emails, START, END)
        assert all(busy[email] == [] for email in emails)
        assert [len(c.json["items"]) for c in google_fake.calls("freebusy.query")] == [50, 10]

    def test_create_event_is_idempotent_with_meet(self, google_fake, tokens):
        first = google.create_event(tokens, "primary", spec(), "booking-42")
        second = google.create_event(tokens, "primary", spec(), "booking-42")

        assert first == second == google.event_id_for("booking-42")
        (event,) = google_fake.events("ann@example.com")
        assert event["id"] == first
        assert event["attendees"] == [
            {"email": "visitor@acme.test", "responseStatus": "needsAction"}
        ]
        assert event["start"] == {"dateTime": "2026-03-02T12:00:00Z", "timeZone": "Europe/Paris"}
        assert event["conferenceData"]["conferenceSolution"]["key"]["type"] == "hangoutsMeet"
        inserts = google_fake.calls("events.insert")
        assert [c.status for c in inserts] == [200, 409]
        assert inserts[0].query["conferenceDataVersion"] == "1"
        assert inserts[0].query["sendUpdates"] == "all"
        assert inserts[0].json["conferenceData"]["createRequest"]["conferenceSolutionKey"] == {
            "type": "hangoutsMeet"
        }
        assert google_fake.notifications == [
            {
                "action": "created",
                "calendar": "ann@example.com",
                "event_id": first,
                "recipients": ["visitor@acme.test"],
                "send_updates": "all",
            }
        ]
        info = google.get_event(tokens, "primary", first)
        assert info.join_url.startswith("https://meet.google.com/")
        assert info.status == "confirmed" and info.start == at(12)

    def test_event_id_is_base32hex(self):
        event_id = google.event_id_for("any key: with / odd ✓ characters")
        assert 5 <= len(event_id) <= 1024
        assert set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")

    def test_update_and_cancel(self, google_fake, tokens):
        event_id = google.create_event(tokens, "primary", spec(), "booking-7")
        google.update_event(tokens, "primary", event_id, spec(start=at(15), end=at(15, 30)))
        event = google_fake.event("ann@example.com", event_id)
        assert event["start"]["dateTime"] == "2026-03-02T15:00:00Z"
        assert event["sequence"] == 1
        assert event["conferenceData"]["entryPoints"]  # the Meet link survives a reschedule
        assert google_fake.calls("events.patch")[0].query["sendUpdates"] == "all"

        google.cancel_event(tokens, "primary", event_id)
        assert google_fake.event("ann@example.com", event_id)["status"] == "cancelled"
        google.cancel_event(tokens, "primary", event_id)  # 410 Gone: already cancelled
        assert [c.status for c in google_fake.calls("events.delete")] == [204, 410]
        google.cancel_event(tokens, "primary", "unknownevent1")  # 404: never existed
        assert [n["action"] for n in google_fake.notifications] == [
            "created",
            "updated",
            "cancelled",
        ]

    def test_429_with_retry_after_is_throttled(self, google_fake, tokens):
        google_fake.fail("freebusy.query", 429, retry_after=7)
        with pytest.raises(Throttled) as error:
            google.free_busy(tokens, ["ann@example.com"], START, END)
        assert error.value.retry_after == 7
        assert error.value.status == 429
        assert len(google_fake.calls("freebusy.query")) == 1  # no hidden library retry

    @pytest.mark.parametrize(
        ("reason", "retry_after"),
        [("rateLimitExceeded", 30), ("userRateLimitExceeded", 30), ("quotaExceeded", 3600)],
    )
    def test_403_rate_limits_are_throttled(self, google_fake, tokens, reason, retry_after):
        google_fake.fail("events.insert", 403, reason=reason)
        with pytest.raises(Throttled) as error:
            google.create_event(tokens, "primary", spec(), "booking-1")
        assert (error.value.code, error.value.retry_after) == (reason, retry_after)

    def test_other_403_is_permanent(self, google_fake, tokens):
        google_fake.fail("events.insert", 403, reason="forbiddenForNonOrganizer")
        with pytest.raises(ProviderError) as error:
            google.create_event(tokens, "primary", spec(), "booking-1")
        assert type(error.value) is ProviderError
        assert error.value.code == "forbiddenForNonOrganizer"

    @pytest.mark.parametrize("status", [500, 503])
    def test_5xx_is_transient(self, google_fake, tokens, status):
        google_fake.fail("events.insert", status)
        with pytest.raises(Transient) as error:
            google.create_event(tokens, "primary", spec(), "booking-1")
        assert error.value.status == status
        assert len(google_fake.calls("events.insert")) == 1
        # The retry (by Celery) then succeeds.
        assert google.create_event(tokens, "primary", spec(), "booking-1")

    def test_token_endpoint_outage_is_transient(self, google_fake, tokens):
        google_fake.fail("token", 503)
        with pytest.raises(Transient):
            google.refresh(tokens, force=True)
        assert len(google_fake.calls("token")) == 2  # sign-in + one refresh, no hidden retry

    def test_401_refreshes_once_and_retries(self, google_fake, tokens):
        google_fake.expire_access_tokens()
        old = tokens.access_token
        google_fake.clear_requests()
        assert google.free_busy(tokens, ["ann@example.com"], START, END) == {"ann@example.com": []}
        assert [(r.route, r.status) for r in google_fake.requests] == [
            ("freebusy.query", 401),
            ("token", 200),
            ("freebusy.query", 200),
        ]
        assert tokens.access_token != old

    def test_401_after_refresh_needs_reauth(self, google_fake, tokens):
        google_fake.fail("freebusy.query", 401, times=2)
        with pytest.raises(ReauthRequired):
            google.free_busy(tokens, ["ann@example.com"], START, END)
        assert len(google_fake.calls("freebusy.query")) == 2
        assert google_fake.calls("token")[-1].body["grant_type"] == "refresh_token"

    def test_timeout_is_transient(self, google_fake, tokens, monkeypatch):
        from wagtail_dynchat.meetings.providers import base

        monkeypatch.setattr(google, "TIMEOUT", 0.2)
        assert base.TIMEOUT == 10
        google_fake.delay("freebusy.query", 1)
        with pytest.raises(Transient):
            google.free_busy(tokens, ["ann@example.com"], START, END)


# ============================================================================================
# Microsoft


class TestMicrosoftOAuth:
    def test_round_trip(self, microsoft_fake):
        url, flow = microsoft.authorization_url(REDIRECT_URI, state="s-123")
        params = query_of(url)
        assert url.startswith(f"{microsoft_fake.authority}/oauth2/v2.0/authorize")
        assert params["state"] == "s-123" == flow["state"]
        assert set(params["scope"].split()) == {
            *microsoft.SCOPES,
            "openid",
            "profile",
            "offline_access",
        }
        assert params["code_challenge_method"] == "S256"
        assert params["response_mode"] == "query"
        assert params["nonce"]

        answer = microsoft_fake.sign_in(url, "ann@contoso.com")
        tokens = microsoft.finish(REDIRECT_URI, flow, answer)

        assert tokens.account == "ann@contoso.com"
        assert tokens.access_token == tokens.refresh_token == ""
        assert '"RefreshToken"' in tokens.cache
        assert tokens.expires_at > datetime.datetime.now(UTC)
        exchange = microsoft_fake.calls("token")[-1]
        assert exchange.body["grant_type"] == "authorization_code"
        assert exchange.body["code_verifier"] == flow["code_verifier"]
        assert exchange.body["client_secret"] == microsoft_fake.client_secret

    def test_state_mismatch(self, microsoft_fake):
        url, flow = microsoft.authorization_url(REDIRECT_URI, state="mine")
        answer = {**microsoft_fake.sign_in(url, "ann@contoso.com"), "state": "forged"}
        with pytest.raises(ProviderError) as error:
            microsoft.finish(REDIRECT_URI, flow, answer)
        assert error.value.code == "state_mismatch"
        assert microsoft_fake.calls("token") == []

    def test_access_denied(self, microsoft_fake):
        url, flow = microsoft.authorization_url(REDIRECT_URI, state="s")
        with pytest.raises(ProviderError) as error:
            microsoft.finish(REDIRECT_URI, flow, microsoft_fake.sign_in(url, deny=True))
        assert error.value.code == "access_denied"

    def test_pkce_verifier_is_checked(self, microsoft_fake):
        url, flow = microsoft.authorization_url(REDIRECT_URI, state="s")
        answer = microsoft_fake.sign_in(url, "ann@contoso.com")
        with pytest.raises(ProviderError) as error:
            microsoft.finish(REDIRECT_URI, {**flow, "code_verifier": "y" * 43}, answer)
        assert error.value.code == "invalid_grant"
        assert "AADSTS501481" in error.value.message

    def test_token_endpoint_outage_during_sign_in_is_transient(self, microsoft_fake):
        url, flow = microsoft.authorization_url(REDIRECT_URI, state="s")
        answer = microsoft_fake.sign_in(url, "ann@contoso.com")
        microsoft_fake.fail("token", 503)
        with pytest.raises(Transient):
            microsoft.finish(REDIRECT_URI, flow, answer)

    def test_refresh_of_an_expired_token(self, microsoft_fake):
        microsoft_fake.access_token_lifetime = 120  # msal refreshes below 5 minutes
        tokens = connect_microsoft(microsoft_fake, "ann@contoso.com")
        cache = tokens.cache
        assert microsoft.refresh(tokens) is tokens
        call = microsoft_fake.calls("token")[-1]
        assert call.body["grant_type"] == "refresh_token"
        assert tokens.cache != cache  # the new tokens are in the cache to store

    def test_valid_token_comes_from_the_cache(self, microsoft_fake):
        tokens = connect_microsoft(microsoft_fake, "ann@contoso.com")
        microsoft.refresh(tokens)
        assert len(microsoft_fake.calls("token")) == 1  # only the sign-in

    def test_revoked_refresh_token(self, microsoft_fake):
        tokens = connect_microsoft(microsoft_fake, "ann@contoso.com")
        microsoft_fake.revoke_user("ann@contoso.com")
        with pytest.raises(ReauthRequired) as error:
            microsoft.refresh(tokens, force=True)
        assert error.value.code == "invalid_grant"
        with pytest.raises(ReauthRequired):
            microsoft.free_busy(tokens, ["ann@contoso.com"], START, END)

    def test_token_endpoint_outage_is_transient(self, microsoft_fake):
        tokens = connect_microsoft(microsoft_fake, "ann@contoso.com")
        microsoft_fake.fail("token", 503)
        with pytest.raises(Transient):
            microsoft.refresh(tokens, force=True)
        assert len(microsoft_fake.calls("token")) == 2  # sign-in + one refresh, no hidden retry

    def test_browser_consent_redirects_back(self, microsoft_fake):
        url, flow = microsoft.authorization_url(REDIRECT_URI, state="s")
        microsoft_fake.default_user = "ann@contoso.com"
        response = requests.get(url, allow_redirects=False, timeout=5)  # trusts the fake's CA
        assert response.status_code == 302
        tokens = microsoft.finish(REDIRECT_URI, flow, query_of(response.headers["Location"]))
        assert tokens.account == "ann@contoso.com"

    def test_empty_cache_needs_reauth(self, microsoft_fake):
        tokens = connect_microsoft(microsoft_fake, "ann@contoso.com")
        microsoft.revoke(tokens)
        with pytest.raises(ReauthRequired):
            microsoft.free_busy(tokens, ["ann@contoso.com"], START, END)


class TestMicrosoftCalendar:
    @pytest.fixture
    def tokens(self, microsoft_fake):
        return connect_microsoft(microsoft_fake, "ann@contoso.com")

    def test_free_busy_for_25_calendars_is_two_calls(self, microsoft_fake, tokens):
        emails = [f"agent{n}@contoso.com" for n in range(23)]
        for email in emails:
            microsoft_fake.add_mailbox(email)
        microsoft_fake.add_busy("agent3@contoso.com", at(9), at(10), status="busy")
        microsoft_fake.add_busy("agent3@contoso.com", at(9, 30), at(11), status="tentative")
        microsoft_fake.add_busy("agent3@contoso.com", at(13), at(14), status="free")
        microsoft_fake.add_busy("agent4@contoso.com", at(8), at(18), status="oof")
        microsoft_fake.add_busy("agent5@contoso.com", at(8), at(9), status="workingElsewhere")
        microsoft_fake.add_mailbox("private@contoso.com", private=True)
        emails += ["private@contoso.com", "ghost@contoso.com"]

        busy = microsoft.free_busy(tokens, emails, START, END)

        calls = microsoft_fake.calls("getSchedule")
        assert [len(c.json["schedules"]) for c in calls] == [20, 5]
        assert calls[0].headers["prefer"] == 'outlook.timezone="UTC"'
        assert calls[0].json["startTime"] == {"dateTime": "2026-03-02T00:00:00", "timeZone": "UTC"}
        assert busy["agent3@contoso.com"] == [(at(9), at(11))]
        assert busy["agent4@contoso.com"] == [(at(8), at(18))]
        assert busy["agent5@contoso.com"] == [(at(8), at(9))]
        assert busy["agent0@contoso.com"] == []
        assert busy["private@contoso.com"] is None
        assert busy["ghost@contoso.com"] is None
        assert len(busy) == 25

    def test_long_windows_are_split(self, microsoft_fake, tokens):
        microsoft_fake.add_busy(
            "ann@contoso.com",
            at(0) + datetime.timedelta(days=65),
            at(1) + datetime.timedelta(days=65),
        )
        busy = microsoft.free_busy(
            tokens, ["ann@contoso.com"], START, START + datetime.timedelta(days=90)
        )
        assert len(microsoft_fake.calls("getSchedule")) == 2
        assert busy["ann@contoso.com"] == [
            (at(0) + datetime.timedelta(days=65), at(1) + datetime.timedelta(days=65))
        ]

    def test_fake_rejects_more_than_20_schedules(self, microsoft_fake, tokens):
        (access_token,) = [
            t
            for t, info in microsoft_fake.access_tokens.items()
            if info["email"] == "ann@contoso.com"
        ]
        response = requests.post(
            f"{microsoft_fake.base_url}/v1.0/me/calendar/getSchedule",
            json={
                "schedules": [f"a{n}@contoso.com" for n in range(21)],
                "startTime": {"dateTime": "2026-03-02T00:00:00", "timeZone": "UTC"},
                "endTime": {"dateTime": "2026-03-03T00:00:00", "timeZone": "UTC"},
            },
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=5,
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "ErrorInvalidParameter"

    def test_create_event_is_idempotent_with_teams(self, microsoft_fake, tokens):
        first = microsoft.create_event(tokens, "primary", spec(), "booking-42")
        second = microsoft.create_event(tokens, "primary", spec(), "booking-42")

        assert first == second
        (event,) = microsoft_fake.events("ann@contoso.com")
        assert event["id"] == first
        assert event["transactionId"] == "booking-42"
        assert event["onlineMeetingProvider"] == "teamsForBusiness"
        assert event["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/")
        assert event["attendees"][0]["emailAddress"]["address"] == "visitor@acme.test"
        creates = microsoft_fake.calls("events.create")
        assert [c.status for c in creates] == [201, 201]
        assert creates[0].path == "/v1.0/me/events"
        assert creates[0].json["start"] == {"dateTime": "2026-03-02T12:00:00", "timeZone": "UTC"}
        assert creates[0].json["isOnlineMeeting"] is True
        assert len(microsoft_fake.notifications) == 1
        info = microsoft.get_event(tokens, "primary", first)
        assert info.join_url == event["onlineMeeting"]["joinUrl"]
        assert (info.start, info.end) == (at(12), at(12, 30))

    def test_update_and_cancel(self, microsoft_fake, tokens):
        event_id = microsoft.create_event(tokens, "primary", spec(), "booking-7")
        microsoft.update_event(tokens, "primary", event_id, spec(start=at(15), end=at(15, 30)))
        event = microsoft_fake.event("ann@contoso.com", event_id)
        assert event["start"]["dateTime"] == "2026-03-02T15:00:00"
        assert event["onlineMeeting"]["joinUrl"]

        microsoft.cancel_event(tokens, "primary", event_id)
        assert microsoft_fake.events("ann@contoso.com") == []
        microsoft.cancel_event(tokens, "primary", event_id)  # 404: already gone
        assert [c.status for c in microsoft_fake.calls("events.delete")] == [204, 404]
        assert [n["action"] for n in microsoft_fake.notifications] == [
            "created",
            "updated",
            "cancelled",
        ]
        with pytest.raises(ProviderError) as error:
            microsoft.get_event(tokens, "primary", event_id)
        assert (error.value.status, error.value.code) == (404, "ErrorItemNotFound")

    def test_429_with_retry_after_is_throttled(self, microsoft_fake, tokens):
        microsoft_fake.fail("getSchedule", 429, retry_after=7)
        with pytest.raises(Throttled) as error:
            microsoft.free_busy(tokens, ["ann@contoso.com"], START, END)
        assert error.value.retry_after == 7
        assert error.value.code == "ApplicationThrottled"
        assert len(microsoft_fake.calls("getSchedule")) == 1

    def test_429_without_retry_after_defaults_to_30(self, microsoft_fake, tokens):
        microsoft_fake.fail("events.create", 429)
        with pytest.raises(Throttled) as error:
            microsoft.create_event(tokens, "primary", spec(), "booking-1")
        assert error.value.retry_after == 30

    def test_503_is_transient(self, microsoft_fake, tokens):
        microsoft_fake.fail("events.create", 503, retry_after=5)
        with pytest.raises(Transient) as error:
            microsoft.create_event(tokens, "primary", spec(), "booking-1")
        assert (error.value.status, error.value.retry_after) == (503, 5)
        assert microsoft.create_event(tokens, "primary", spec(), "booking-1")
        assert len(microsoft_fake.events("ann@contoso.com")) == 1

    def test_401_refreshes_once_and_retries(self, microsoft_fake, tokens):
        microsoft_fake.expire_access_tokens()
        microsoft_fake.clear_requests()
        assert microsoft.free_busy(tokens, ["ann@contoso.com"], START, END) == {
            "ann@contoso.com": []
        }
        assert [(r.route, r.status) for r in microsoft_fake.requests] == [
            ("getSchedule", 401),
            ("token", 200),
            ("getSchedule", 200),
        ]
        assert microsoft_fake.requests[1].body["grant_type"] == "refresh_token"

    def test_401_after_refresh_needs_reauth(self, microsoft_fake, tokens):
        microsoft_fake.fail("getSchedule", 401, times=2)
        with pytest.raises(ReauthRequired):
            microsoft.free_busy(tokens, ["ann@contoso.com"], START, END)
        assert len(microsoft_fake.calls("getSchedule")) == 2
        assert len(microsoft_fake.calls("token")) == 2  # sign-in + one refresh

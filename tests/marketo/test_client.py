"""The Marketo REST client against the loopback fake (real requests sockets, nothing patched)."""

import threading
import time

import pytest

from tests.fakes import marketo as fake_marketo
from wagtail_dynchat.marketo import (
    AuthError,
    MarketoClient,
    MarketoError,
    QuotaExceeded,
    RecordResult,
    Transient,
)
from wagtail_dynchat.marketo.client import Reason

marketo_fake = fake_marketo.marketo_fake


@pytest.fixture
def client(marketo_fake):
    return MarketoClient(backoff_base=0.01, backoff_max=0.05)


def rest_calls(fake):
    return [r for r in fake.requests if r.route and r.route != "identity"]


def test_is_configured(marketo_fake, settings):
    assert MarketoClient().is_configured()
    settings.WAGTAIL_DYNCHAT = {"MARKETO": {"BASE_URL": ""}}
    assert not MarketoClient().is_configured()


def test_token_fetched_once_cached_and_only_in_the_header(client, marketo_fake):
    marketo_fake.add_lead(email="ann@example.com")
    for _ in range(3):
        assert client.get_leads_by_filter("email", ["ann@example.com"])[0]["id"] == 1
    assert client.describe_leads()[1]["rest"]["name"] == "email"
    # A second client (another process) shares the cached token.
    MarketoClient().describe_leads()
    identity = marketo_fake.calls("identity")
    assert len(identity) == 1
    assert identity[0].query["grant_type"] == "client_credentials"
    assert identity[0].query["client_id"] == marketo_fake.client_id
    token = next(iter(marketo_fake.tokens))
    for call in rest_calls(marketo_fake):
        assert call.bearer == token
        assert "access_token" not in call.query
        assert token not in str(call.query)


def test_bad_credentials_raise_auth_error(marketo_fake, settings):
    settings.WAGTAIL_DYNCHAT["MARKETO"] = {**marketo_fake.settings(), "CLIENT_SECRET": "nope"}
    with pytest.raises(AuthError) as caught:
        MarketoClient().describe_leads()
    assert caught.value.code == "HTTP 401"


def test_renewed_on_602_mid_run(client, marketo_fake):
    client.describe_leads()
    marketo_fake.expire_tokens()
    client.describe_leads()
    assert len(marketo_fake.calls("identity")) == 2
    assert [r.status for r in rest_calls(marketo_fake)] == [200, 200, 200]  # 602 is in a 200
    bearers = [r.bearer for r in rest_calls(marketo_fake)]
    assert bearers[1] == bearers[0] != bearers[2]


def test_scripted_601_and_602_reauth_once_per_request(client, marketo_fake):
    client.describe_leads()
    marketo_fake.fail_code("leads.describe", 601)
    client.describe_leads()
    marketo_fake.fail_code("leads.describe", 602)
    client.describe_leads()
    assert len(marketo_fake.calls("leads.describe")) == 5
    # Twice in a row for the same request: no endless loop, fail loudly.
    marketo_fake.fail_code("leads.describe", 602, times=2)
    with pytest.raises(AuthError) as caught:
        client.describe_leads()
    assert caught.value.code == "602"
    assert len(marketo_fake.calls("leads.describe")) == 7


def test_token_renewed_near_expiry(client, marketo_fake):
    marketo_fake.token_lifetime = 2
    client.describe_leads()
    first = next(iter(marketo_fake.tokens))
    time.sleep(1.6)  # inside the renewal margin (a quarter of the lifetime), not yet expired
    client.describe_leads()
    assert len(marketo_fake.calls("identity")) == 2  # asked proactively: same token, less life
    time.sleep(0.6)  # now expired: Identity hands out a new one before the call
    client.describe_leads()
    assert len(marketo_fake.tokens) == 2
    assert rest_calls(marketo_fake)[-1].bearer != first
    assert all(r.status == 200 for r in rest_calls(marketo_fake))
    assert not [r for r in rest_calls(marketo_fake) if r.bearer == first][2:]


def test_606_storm_then_success(marketo_fake):
    slept = []
    client = MarketoClient(backoff_base=0.01, sleep=slept.append, max_attempts=6)
    marketo_fake.fail_code("leads.sync", 606, times=4)
    results = client.sync_leads([{"email": "ann@example.com"}])
    assert results == [RecordResult(0, "created", 1)]
    assert len(marketo_fake.calls("leads.sync")) == 5
    assert len(slept) == 4 and all(0 < pause <= 30 for pause in slept)
    assert marketo_fake.max_calls_in_window() <= marketo_fake.rate_calls


def test_606_storm_past_the_attempts_raises_transient(client, marketo_fake):
    marketo_fake.fail_code("leads.sync", 606, times=10)
    with pytest.raises(Transient) as caught:
        client.sync_leads([{"email": "ann@example.com"}])
    assert caught.value.code == "606"
    assert len(marketo_fake.calls("leads.sync")) == 5


@pytest.mark.parametrize("code", ["604", "608", "611", "615", "502"])
def test_transient_codes_retried(client, marketo_fake, code):
    marketo_fake.fail_code("leads.describe", code, times=2)
    assert client.describe_leads()
    assert len(marketo_fake.calls("leads.describe")) == 3


def test_http_5xx_retried(client, marketo_fake):
    marketo_fake.fail("leads.describe", 503, times=2)
    assert client.describe_leads()
    assert [r.status for r in marketo_fake.calls("leads.describe")] == [503, 503, 200]


def test_timeout_retried(marketo_fake, settings):
    settings.WAGTAIL_DYNCHAT["MARKETO"] = {**marketo_fake.settings(), "TIMEOUT": 0.3}
    client = MarketoClient(backoff_base=0.01)
    marketo_fake.delay("leads.describe", 1)
    assert client.describe_leads()
    assert len(marketo_fake.calls("leads.describe")) == 2


def test_connection_reset_retried(client, marketo_fake):
    client.describe_leads()  # token fetched, keep-alive connection open
    marketo_fake.reset_connections(times=2)
    assert client.describe_leads()
    assert [r.status for r in marketo_fake.requests[-3:]] == [0, 0, 200]


@pytest.mark.parametrize("code", ["607", "1029"])
def test_quota_not_retried(client, marketo_fake, code):
    marketo_fake.fail_code("leads.sync", code)
    with pytest.raises(QuotaExceeded) as caught:
        client.sync_leads([{"email": "ann@example.com"}])
    assert caught.value.code == code
    assert len(marketo_fake.calls("leads.sync")) == 1


@pytest.mark.parametrize("code", ["603", "609", "610", "612", "702", "1003"])
def test_permanent_errors_fail_loudly(client, marketo_fake, code):
    marketo_fake.fail_code("leads.describe", code, message=f"boom {code}")
    with pytest.raises(MarketoError) as caught:
        client.describe_leads()
    assert type(caught.value) is MarketoError
    assert caught.value.code == code and caught.value.message == f"boom {code}"
    assert code in str(caught.value)
    assert len(marketo_fake.calls("leads.describe")) == 1


def test_record_level_results_and_skipped_reasons(client, marketo_fake):
    marketo_fake.add_lead(email="old@example.com")
    results = client.sync_leads(
        [
            {"email": "old@example.com", "firstName": "Old"},
            {"email": "new@example.com"},
            {"email": "not-an-email"},
            {"email": "x@example.com", "favouriteColour": "red"},
            {"firstName": "No e-mail"},
        ]
    )
    assert results[:2] == [RecordResult(0, "updated", 1), RecordResult(1, "created", 2)]
    assert [(r.index, r.status, r.skipped) for r in results[2:]] == [
        (2, "skipped", True),
        (3, "skipped", True),
        (4, "skipped", True),
    ]
    assert results[2].reasons == (Reason("1003", "Invalid email address"),)
    assert results[3].reasons[0].code == "1006"
    assert results[4].reasons[0].code == "1003"
    assert marketo_fake.leads[1]["firstName"] == "Old"
    only = client.sync_leads([{"email": "new@example.com"}], action="createOnly")
    assert only[0].reasons == (Reason("1005", "Lead already exists"),)
    update = client.sync_leads([{"email": "ghost@example.com"}], action="updateOnly")
    assert update[0].reasons == (Reason("1004", "Lead not found"),)


def test_sync_leads_batches_by_batch_size(client, marketo_fake):
    records = [{"email": f"u{i}@example.com"} for i in range(650)]
    results = client.sync_leads(records)
    calls = marketo_fake.calls("leads.sync")
    assert [len(c.json["input"]) for c in calls] == [300, 300, 50]
    assert {c.json["lookupField"] for c in calls} == {"email"}
    assert [r.index for r in results] == list(range(650))
    assert {r.status for r in results} == {"created"}
    assert results[649].id == marketo_fake.leads[650]["id"]


def test_batch_size_setting(marketo_fake, settings):
    settings.WAGTAIL_DYNCHAT["MARKETO"] = {**marketo_fake.settings(), "BATCH_SIZE": 2}
    MarketoClient().sync_leads([{"email": f"u{i}@example.com"} for i in range(5)])
    assert [len(c.json["input"]) for c in marketo_fake.calls("leads.sync")] == [2, 2, 1]


def test_get_leads_paging_and_cookie_values(client, marketo_fake):
    for i in range(7):
        marketo_fake.add_lead(email=f"u{i}@example.com", cookies=f"_mch-ex.com-1-{i}")
    leads = client.get_leads_by_filter("id", range(1, 8), ["email"], batch_size=3)
    assert [lead["id"] for lead in leads] == [1, 2, 3, 4, 5, 6, 7]
    assert [c.query.get("nextPageToken") for c in marketo_fake.calls("leads.get")] == [
        None,
        "3",
        "6",
    ]
    found = client.get_leads_by_filter("cookies", ["id:123-ABC-456&token:_mch-ex.com-1-3"])
    assert [lead["id"] for lead in found] == [4]
    assert (
        marketo_fake.calls("leads.get")[-1].query["filterValues"].endswith("&token:_mch-ex.com-1-3")
    )


def test_more_than_300_values_are_chunked(client, marketo_fake):
    client.get_leads_by_filter("id", range(1, 701))
    calls = marketo_fake.calls("leads.get") + marketo_fake.calls("leads.sync")
    assert sorted(
        len((c.query.get("filterValues") or c.body["filterValues"]).split(",")) for c in calls
    ) == [
        100,
        300,
        300,
    ]


def test_414_answered_by_post_with_method_get(client, marketo_fake):
    marketo_fake.max_uri_length = 1000  # the fake's limit below the client's own guess
    emails = [f"someone-{i}@example.com" for i in range(60)]
    marketo_fake.add_lead(email=emails[42])
    leads = client.get_leads_by_filter("email", emails, ["email", "firstName"])
    assert [lead["email"] for lead in leads] == [emails[42]]
    first, second = marketo_fake.requests[-2:]
    assert (first.method, first.status) == ("GET", 414)
    assert (second.method, second.route, second.status) == ("POST", "leads.sync", 200)
    assert second.query == {"_method": "GET"}
    assert second.headers["content-type"] == "application/x-www-form-urlencoded"
    assert second.body["filterValues"] == ",".join(emails)
    assert second.bearer and "access_token" not in second.body


def test_long_value_lists_go_straight_to_post(client, marketo_fake):
    emails = [f"a-rather-long-address-number-{i}@example.com" for i in range(300)]
    client.get_leads_by_filter("email", emails)
    (call,) = rest_calls(marketo_fake)
    assert call.method == "POST" and call.query == {"_method": "GET"}


def test_get_and_post_are_public(client, marketo_fake):
    assert client.get("/rest/v1/leads/describe.json")["success"] is True
    body = client.post("rest/v1/leads.json", {"input": [{"email": "z@example.com"}]})
    assert body["result"] == [{"id": 1, "status": "created"}]


def test_burst_stays_within_the_budget(marketo_fake, settings):
    """200 calls from 8 threads at once: the shared limiter keeps the fake's count under budget."""
    marketo_fake.rate_calls, marketo_fake.window = 25, 1.0
    marketo_fake.max_concurrent = 5
    marketo_fake.latency = 0.01
    settings.WAGTAIL_DYNCHAT["MARKETO"] = {
        **marketo_fake.settings(),
        "RATE_CALLS": 25,
        "RATE_WINDOW_SECONDS": 1,
        "MAX_CONCURRENT": 5,
    }
    errors = []

    def work(count):
        client = MarketoClient(backoff_base=0.01)
        try:
            for _ in range(count):
                client.describe_leads()
        except Exception as error:
            errors.append(error)

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(25,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started
    assert not errors, errors
    assert len(marketo_fake.accepted) == 200
    assert marketo_fake.rejected == {}  # not a single 606 or 615
    assert marketo_fake.max_calls_in_window() <= 25
    assert marketo_fake.max_in_flight <= 5
    assert elapsed >= 7 * 0.95  # 200 calls at 25 per second: the budget was used, not exceeded

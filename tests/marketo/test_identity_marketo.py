"""Marketo identity (issue 6, "Identity"): the Munchkin cookie seen by the visitor API is looked
up in Marketo in the background, a captured e-mail upserts the lead once per e-mail and the
cookie is then associated with it, so an anonymous visitor becomes the known person and the chat
personalises from the next call on. Against the loopback fake Marketo, through the public API
and the Celery tasks (eager)."""

import datetime
import json
import threading

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import make_blueprint_dialogue
from tests.fakes import marketo as marketo_fakes
from tests.test_privacy_api import site_settings
from tests.test_scenarios import Browser, audience, make, rule
from wagtail_dynchat.marketo import identity, outbox, tasks
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.marketo.errors import MarketoError
from wagtail_dynchat.models import Company, Conversation, OutboxItem, Person, Visitor

from ..conftest import SIMPLE_FLOW, branch, message

marketo_fake = marketo_fakes.marketo_fake

TOKEN = "_mch-example.com-1700000000000-12345"
COOKIE = f"id:123-ABC-456&token:{TOKEN}"  # the fake's Munchkin id


@pytest.fixture(autouse=True)
def _fast_client(monkeypatch):
    # Two tries per call, no sleeping: waits between tries are Celery's job here.
    monkeypatch.setattr(
        tasks, "make_client", lambda: MarketoClient(max_attempts=2, sleep=lambda s: None)
    )


@pytest.fixture
def retries_run(monkeypatch):
    """Eager tasks re-run on self.retry() instead of raising celery.exceptions.Retry."""
    monkeypatch.setitem(current_app.conf, "task_eager_propagates", False)


@pytest.fixture
def demo(pages):
    return make_blueprint_dialogue("book-a-demo", targets=[(pages["pricing"], "page")])


@pytest.fixture
def elsewhere(pages):
    """A dialogue on the contact page: a way for a browser to get its visitor row."""
    return make(SIMPLE_FLOW, name="Contact", targets=[(pages["contact"], "page")])


def returning(pages, elsewhere, cookie=None):
    """A browser with a visitor row (it opened a chat), and ``_mkto_trk`` set when given."""
    browser = Browser()
    browser.started(elsewhere, pages["contact"])
    if cookie is not None:
        browser.client.cookies[identity.COOKIE_NAME] = cookie
    return browser


def visitor_of(browser):
    return Visitor.objects.select_related("person").get(
        key=browser.client.cookies["dynchat_vid"].value
    )


def look(browser, page, capture):
    """Bootstrap with the on-commit work (the lookup task) run."""
    with capture(execute=True):
        return browser.look(page)


def ada_lead(fake, **fields):
    return fake.add_lead(
        email="ada@example.com",
        firstName="Ada",
        lastName="Lovelace",
        company="Analytical Engines",
        cookies=TOKEN,
        **fields,
    )


def items_text(conversation):
    return json.dumps(conversation["items"])


# -- the cookie ---------------------------------------------------------------------------------


def test_cookie_values_are_validated(settings):
    settings.WAGTAIL_DYNCHAT = {"MARKETO": {"MUNCHKIN_ID": "123-abc-456"}}
    assert identity.parse_cookie(COOKIE) == COOKIE
    assert identity.parse_cookie(f" {COOKIE} ") == COOKIE
    for bad in [
        None,
        "",
        TOKEN,  # the token alone
        "id:123-ABC-456",
        "id:123-ABC-456&token:nope",
        f"id:123-ABC-456&token:{TOKEN},_mch-other.com-1-2",  # a list would widen the lookup
        f"id:123-ABC-456&token:_mch-{'x' * 250}",  # too long
        f"id:999-XYZ-000&token:{TOKEN}",  # another Marketo instance
    ]:
        assert identity.parse_cookie(bad) is None, bad
    settings.WAGTAIL_DYNCHAT = {"MARKETO": {"MUNCHKIN_ID": ""}}
    assert identity.parse_cookie(f"id:999-XYZ-000&token:{TOKEN}")  # any instance's then


# -- the lookup ---------------------------------------------------------------------------------


def test_a_cookie_seen_at_bootstrap_fills_the_anonymous_person_from_its_lead(
    pages, elsewhere, marketo_fake, django_capture_on_commit_callbacks
):
    lead = ada_lead(marketo_fake, title="Countess")
    browser = returning(pages, elsewhere, COOKIE)
    anonymous = visitor_of(browser).person
    assert not anonymous.is_known

    look(browser, pages["pricing"], django_capture_on_commit_callbacks)

    [call] = marketo_fake.calls("leads.get")
    # The whole value, its "&" URL-encoded: a raw "&" would have split it and matched nothing.
    assert call.query["filterType"] == "cookies"
    assert call.query["filterValues"] == COOKIE
    assert {"email", "firstName", "company"} <= set(call.query["fields"].split(","))
    visitor = visitor_of(browser)
    person = visitor.person
    assert person.pk == anonymous.pk
    assert (person.email, person.first_name, person.job_title) == (
        "ada@example.com",
        "Ada",
        "Countess",
    )
    assert person.marketo_id == lead["id"]
    assert person.company_record == Company.objects.get(key="name:analytical engines")
    assert visitor.munchkin_cookie == COOKIE
    # Marketo found the lead by this cookie: it is associated already, never sent again.
    marker = OutboxItem.objects.get(kind="associate")
    assert (marker.status, marker.payload["cookie"]) == ("done", COOKIE)


def test_a_cookie_of_a_known_lead_merges_the_visitor_into_its_person(
    pages, elsewhere, marketo_fake, django_capture_on_commit_callbacks
):
    lead = ada_lead(marketo_fake)
    known = Person.objects.create(email="ada@example.com", last_name="Byron")
    browser = returning(pages, elsewhere, COOKIE)
    anonymous = visitor_of(browser).person
    anonymous.phone = "+44 20 7946 0000"  # told the chat while anonymous
    anonymous.save()
    conversation = Conversation.objects.get(person=anonymous)
    queued = OutboxItem.objects.create(kind="activity", dedupe_key="a:1", person=anonymous)

    look(browser, pages["pricing"], django_capture_on_commit_callbacks)

    known.refresh_from_db()
    assert visitor_of(browser).person == known
    assert not Person.objects.filter(pk=anonymous.pk).exists()
    # Blanks filled (from the chat first, then the lead); what we knew stays.
    assert (known.first_name, known.last_name, known.phone) == ("Ada", "Byron", "+44 20 7946 0000")
    assert known.marketo_id == lead["id"]
    conversation.refresh_from_db()
    queued.refresh_from_db()
    assert conversation.person == known and queued.person == known


def test_a_person_holding_the_lead_id_absorbs_the_visitor(
    pages, elsewhere, marketo_fake, django_capture_on_commit_callbacks
):
    lead = ada_lead(marketo_fake)
    # Known by the lead id, under an e-mail address Marketo has since changed.
    known = Person.objects.create(email="ada@old.example", marketo_id=lead["id"])
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert visitor_of(browser).person == known
    assert Person.objects.count() == 1


def test_a_visitor_known_by_e_mail_keeps_that_person(
    pages, elsewhere, marketo_fake, django_capture_on_commit_callbacks
):
    ada_lead(marketo_fake)
    browser = returning(pages, elsewhere, COOKIE)
    grace = visitor_of(browser).person
    grace.email = "grace@example.com"
    grace.save()
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    grace.refresh_from_db()
    # The cookie says Ada (a shared computer); the visitor said Grace: Grace it stays.
    assert visitor_of(browser).person == grace
    assert grace.marketo_id is None
    assert not Person.objects.filter(email="ada@example.com").exists()


def test_no_lead_for_the_cookie_changes_nothing(
    pages, elsewhere, marketo_fake, django_capture_on_commit_callbacks
):
    browser = returning(pages, elsewhere, COOKIE)
    anonymous = visitor_of(browser).person
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert len(marketo_fake.calls("leads.get")) == 1
    person = visitor_of(browser).person
    assert (person.pk, person.email, person.marketo_id) == (anonymous.pk, None, None)
    assert not OutboxItem.objects.exists()


def test_a_cookie_is_looked_up_once_per_value_and_again_after_the_recheck_period(
    pages, elsewhere, marketo_fake, django_capture_on_commit_callbacks
):
    browser = returning(pages, elsewhere, COOKIE)
    for _ in range(3):
        look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert len(marketo_fake.calls("leads.get")) == 1

    # A day later, Marketo may know the browser: it is asked again, once.
    Visitor.objects.update(
        munchkin_checked_at=timezone.now() - datetime.timedelta(days=1, seconds=1)
    )
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert len(marketo_fake.calls("leads.get")) == 2

    # A new cookie (cleared cookies, a new Munchkin session) is asked about at once.
    other = "id:123-ABC-456&token:_mch-example.com-1700000000999-99999"
    browser.client.cookies[identity.COOKIE_NAME] = other
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    calls = marketo_fake.calls("leads.get")
    assert len(calls) == 3 and calls[-1].query["filterValues"] == other


def test_the_cookie_is_also_noted_when_a_first_time_visitor_starts_a_chat(
    pages, demo, marketo_fake, django_capture_on_commit_callbacks
):
    lead = ada_lead(marketo_fake)
    browser = Browser()
    browser.client.cookies[identity.COOKIE_NAME] = COOKIE
    # Bootstrap creates no visitor, so it notes nothing; the start that creates one does.
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert not marketo_fake.calls("leads.get")
    with django_capture_on_commit_callbacks(execute=True):
        browser.started(demo, pages["pricing"])
    assert visitor_of(browser).person.marketo_id == lead["id"]


@pytest.mark.parametrize(
    "cookie", [f"id:999-XYZ-000&token:{TOKEN}", "id:123-ABC-456", "garbage" * 50]
)
def test_cookies_of_another_instance_or_malformed_are_ignored(
    pages, elsewhere, marketo_fake, django_capture_on_commit_callbacks, cookie
):
    ada_lead(marketo_fake)
    browser = returning(pages, elsewhere, cookie)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        browser.look(pages["pricing"])
    assert not callbacks
    assert not marketo_fake.calls("leads.get")
    assert visitor_of(browser).munchkin_cookie == ""


def test_before_consent_the_cookie_is_not_read(
    pages, simple_dialogue, marketo_fake, django_capture_on_commit_callbacks
):
    ada_lead(marketo_fake)
    site_settings(consent_required=True)
    browser = Browser()
    browser._post("consent", {"accept": True})
    browser.started(simple_dialogue, pages["pricing"])
    browser._post("consent", {"accept": False})  # withdrawn: the site asks again
    browser.client.cookies["dynchat_vid"] = Visitor.objects.get().key  # the browser kept it
    browser.client.cookies[identity.COOKIE_NAME] = COOKIE
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert browser.look(pages["pricing"])["consent"] is not None
        refused = browser.open(simple_dialogue, pages["pricing"])
    assert refused.status_code == 403
    assert not callbacks and not marketo_fake.calls("leads.get")
    assert Visitor.objects.get().munchkin_cookie == ""

    browser._post("consent", {"accept": True})
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert len(marketo_fake.calls("leads.get")) == 1
    assert Visitor.objects.get().person.email == "ada@example.com"


def _bootstrap_queries(browser, page):
    with CaptureQueriesContext(connection) as captured:
        assert browser.look_response(page).status_code == 200
    return len(captured)


def test_bootstrap_costs_nothing_more_without_a_cookie_or_without_marketo(
    pages,
    elsewhere,
    marketo_fake,
    settings,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    pricing = pages["pricing"]
    Browser().look(pricing)  # warm the caches
    with django_assert_num_queries(0):  # an anonymous visitor without cookies
        Browser().look(pricing)
    stranger = Browser()
    stranger.client.cookies[identity.COOKIE_NAME] = COOKIE
    with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(0):
        stranger.look(pricing)  # no visitor row: nothing to note it on
    assert not callbacks

    plain = returning(pages, elsewhere)
    baseline = _bootstrap_queries(plain, pricing)
    browser = returning(pages, elsewhere)
    marketo = settings.WAGTAIL_DYNCHAT
    settings.WAGTAIL_DYNCHAT = {}  # no Marketo
    browser.client.cookies[identity.COOKIE_NAME] = COOKIE
    with django_capture_on_commit_callbacks() as callbacks:
        assert _bootstrap_queries(browser, pricing) == baseline
    assert not callbacks

    settings.WAGTAIL_DYNCHAT = marketo
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert _bootstrap_queries(browser, pricing) == baseline + 1  # the claim of the lookup
    assert len(callbacks) == 1
    # Looked up: later calls cost what they cost without the cookie.
    with django_capture_on_commit_callbacks() as callbacks:
        assert _bootstrap_queries(browser, pricing) == baseline
    assert not callbacks
    assert len(marketo_fake.calls("leads.get")) == 1


# -- lookup errors ------------------------------------------------------------------------------


def test_marketo_down_retries_the_lookup_with_backoff_then_gives_up(
    pages, elsewhere, marketo_fake, retries_run, monkeypatch, django_capture_on_commit_callbacks
):
    marketo_fake.fail("leads.get", 503, times=100)
    countdowns = []
    retry = identity.lookup_munchkin_cookie.retry

    def spy(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return retry(*args, **kwargs)

    monkeypatch.setattr(identity.lookup_munchkin_cookie, "retry", spy)
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)

    # Each run tries twice (the client), the task runs 1 + LOOKUP_RETRIES times.
    assert len(marketo_fake.calls("leads.get")) == 2 * (1 + identity.LOOKUP_RETRIES)
    assert len(countdowns) == identity.LOOKUP_RETRIES
    for n, countdown in enumerate(countdowns):
        base = identity.LOOKUP_BACKOFF * 2**n
        assert base / 2 <= countdown <= base
    assert visitor_of(browser).person.email is None


def test_marketo_back_before_the_retries_run_out_identifies_the_visitor(
    pages, elsewhere, marketo_fake, retries_run, django_capture_on_commit_callbacks
):
    lead = ada_lead(marketo_fake)
    marketo_fake.fail_code("leads.get", 606, times=3)  # busy for a while
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert visitor_of(browser).person.marketo_id == lead["id"]


def test_an_invalid_cookie_1012_is_forgotten(
    pages, elsewhere, demo, marketo_fake, django_capture_on_commit_callbacks
):
    marketo_fake.fail_code("leads.get", 1012, message="Invalid cookie value")
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    marker = OutboxItem.objects.get(kind="associate")
    assert marker.status == "dead" and "1012" in marker.last_error
    # Not asked about again, and never associated once the visitor is known.
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    assert len(marketo_fake.calls("leads.get")) == 1
    capture_email(browser, demo, pages, django_capture_on_commit_callbacks)
    assert Person.objects.get(email="ada@example.com").marketo_id
    assert not marketo_fake.calls("leads.associate")


# -- upsert per e-mail, then association -----------------------------------------------------


def capture_email(browser, demo, pages, capture, email="ada@example.com"):
    conversation = browser.started(demo, pages["pricing"])
    conversation = browser.reply(conversation, 0)
    with capture(execute=True):
        return browser.reply(conversation, email)


def test_a_captured_e_mail_upserts_the_lead_stores_its_id_and_associates_the_cookie(
    pages, elsewhere, demo, marketo_fake, django_capture_on_commit_callbacks
):
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)  # unknown to Marketo
    conversation = capture_email(browser, demo, pages, django_capture_on_commit_callbacks)

    person = Person.objects.get(email="ada@example.com")
    lead = OutboxItem.objects.get(kind="lead")
    assert (lead.dedupe_key, lead.status) == ("lead:email:ada@example.com", "done")
    assert person.marketo_id == int(lead.marketo_id)
    [call] = marketo_fake.calls("leads.associate")
    assert call.path == f"/rest/v1/leads/{person.marketo_id}/associate.json"
    assert call.query == {"cookie": COOKIE}  # decoded whole: the "&" travelled encoded
    assert marketo_fake.associations == [(person.marketo_id, COOKIE)]
    association = OutboxItem.objects.get(kind="associate")
    assert (association.status, association.person) == ("done", person)

    # More answers upsert again; the cookie is not associated twice.
    with django_capture_on_commit_callbacks(execute=True):
        browser.reply(conversation, "Ada")
    assert len(marketo_fake.calls("leads.sync")) == 2
    assert len(marketo_fake.calls("leads.associate")) == 1

    # Marketo now knows the browser: a fresh lookup finds the lead.
    other = returning(pages, elsewhere, COOKIE)
    look(other, pages["pricing"], django_capture_on_commit_callbacks)
    assert visitor_of(other).person == person


def test_an_upsert_id_held_by_another_person_is_left(
    pages, elsewhere, demo, marketo_fake, django_capture_on_commit_callbacks, caplog
):
    lead = marketo_fake.add_lead(email="ada@example.com")
    other = Person.objects.create(email="ada.l@example.com", marketo_id=lead["id"])
    browser = returning(pages, elsewhere)
    capture_email(browser, demo, pages, django_capture_on_commit_callbacks)
    person = Person.objects.get(email="ada@example.com")
    assert person.marketo_id is None
    other.refresh_from_db()
    assert other.marketo_id == lead["id"]
    assert "keeps no lead id" in caplog.text


def test_association_of_a_lead_marketo_no_longer_has_goes_dead_1004(
    pages, elsewhere, demo, marketo_fake, django_capture_on_commit_callbacks
):
    Person.objects.create(email="ada@example.com", marketo_id=999)  # deleted in Marketo
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    capture_email(browser, demo, pages, django_capture_on_commit_callbacks)
    association = OutboxItem.objects.get(kind="associate")
    assert association.status == "dead"
    assert "1004" in association.last_error and "Lead not found" in association.last_error
    assert not marketo_fake.associations


def test_association_refused_as_invalid_cookie_goes_dead_1012(
    pages, elsewhere, demo, marketo_fake, django_capture_on_commit_callbacks
):
    marketo_fake.fail_code("leads.associate", 1012, message="Invalid cookie value")
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    capture_email(browser, demo, pages, django_capture_on_commit_callbacks)
    association = OutboxItem.objects.get(kind="associate")
    assert (association.status, association.attempts) == ("dead", 1)
    assert "1012" in association.last_error


def test_association_waits_when_marketo_is_down(
    pages, elsewhere, demo, marketo_fake, django_capture_on_commit_callbacks
):
    browser = returning(pages, elsewhere, COOKIE)
    look(browser, pages["pricing"], django_capture_on_commit_callbacks)
    marketo_fake.fail("leads.associate", 503, times=2)
    capture_email(browser, demo, pages, django_capture_on_commit_callbacks)
    association = OutboxItem.objects.get(kind="associate")
    assert (association.status, association.attempts) == ("failed", 1)
    assert association.next_attempt_at > timezone.now()
    OutboxItem.objects.filter(pk=association.pk).update(next_attempt_at=timezone.now())
    tasks.drain_outbox()
    association.refresh_from_db()
    assert association.status == "done"
    assert len(marketo_fake.associations) == 1


def test_the_fake_refuses_malformed_cookies_and_unknown_leads(marketo_fake):
    client = MarketoClient(max_attempts=1)
    lead = ada_lead(marketo_fake)
    with pytest.raises(MarketoError) as refused:
        client.request("POST", f"/rest/v1/leads/{lead['id']}/associate.json?cookie={COOKIE}")
    assert refused.value.code == "1012"  # an unencoded "&" cuts the cookie short
    with pytest.raises(MarketoError) as missing:
        identity.associate(client, 4242, COOKIE)
    assert missing.value.code == "1004"


def test_merging_an_anonymous_person_moves_its_outbox_items(
    pages, elsewhere, demo, db, django_capture_on_commit_callbacks
):
    known = Person.objects.create(email="ada@example.com")
    browser = returning(pages, elsewhere)
    anonymous = visitor_of(browser).person
    item = OutboxItem.objects.create(kind="activity", dedupe_key="activity:1", person=anonymous)
    capture_email(browser, demo, pages, django_capture_on_commit_callbacks)
    item.refresh_from_db()
    assert item.person == known
    assert not Person.objects.filter(pk=anonymous.pk).exists()


def test_the_lead_key_is_the_lower_cased_e_mail():
    assert outbox.lead_key(" Ada@Example.COM ") == "lead:email:ada@example.com"
    long = "a" * 180 + "@example.com"
    assert outbox.lead_key(long).startswith("lead:email-sha256:")
    assert len(outbox.lead_key(long)) <= 191


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_visitors_capturing_one_e_mail_never_have_two_upserts_in_flight(
    pages, demo, marketo_fake
):
    from django.db import connections

    from tests.conftest import require_service

    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/dynchat")
    marketo_fake.latency = 0.3  # a long call: the second capture lands while the first is sent
    browsers = [Browser(), Browser()]
    awaiting = []
    for browser in browsers:
        conversation = browser.started(demo, pages["pricing"])
        awaiting.append(browser.reply(conversation, 0))
    barrier = threading.Barrier(2)
    errors = []

    def capture(browser, conversation, email):
        try:
            barrier.wait(5)
            browser.reply(conversation, email)
        except Exception as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=capture, args=(browser, conversation, email))
        for browser, conversation, email in zip(
            browsers, awaiting, ["ada@example.com", "ADA@example.com"], strict=True
        )
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    tasks.drain_outbox()  # whatever a drain left due

    assert Person.objects.filter(email="ada@example.com").count() == 1
    items = OutboxItem.objects.filter(kind="lead")
    assert {item.dedupe_key for item in items} == {"lead:email:ada@example.com"}
    assert {item.status for item in items} == {"done"}
    syncs = marketo_fake.calls("leads.sync")
    assert syncs and marketo_fake.max_in_flight == 1  # never two upserts at once
    emails = [lead.get("email") for lead in marketo_fake.leads.values()]
    assert emails == ["ada@example.com"]
    assert Person.objects.get(email="ada@example.com").marketo_id == marketo_fake.leads[1]["id"]


# -- personalisation from then on --------------------------------------------------------------


def test_after_the_lookup_the_chat_speaks_to_the_known_person(
    pages, elsewhere, demo, marketo_fake, django_capture_on_commit_callbacks
):
    ada_lead(marketo_fake)
    pricing = pages["pricing"]
    welcome = make(
        [
            branch(
                "start", "Start", message('<p>Welcome back, {{ person.first_name|"friend" }}!</p>')
            )
        ],
        name="Welcome back",
        priority=90,
        targets=[(pricing, "page")],
        audience=audience([rule("visitor.known", "is", "yes")]),
    )
    browser = returning(pages, elsewhere, COOKIE)
    stranger = returning(pages, elsewhere)

    # The call that sees the cookie answers as before (the lookup runs in the background).
    assert look(browser, pricing, django_capture_on_commit_callbacks)["dialogue"]["id"] == demo.pk
    # From then on: the audience for known people matches, and tokens know Ada.
    assert browser.offered(pricing)[0] == welcome.pk
    assert "Welcome back, Ada!" in items_text(browser.started(welcome, pricing))
    # Skip-if-known: the demo asks for nothing Marketo already told us.
    conversation = browser.started(demo, pricing)
    assert "Hi Ada!" in items_text(conversation)
    done = browser.reply(conversation, 0)
    assert done["status"] == "completed"
    assert "Thanks Ada!" in items_text(done)

    # A visitor without the cookie is still a stranger.
    assert stranger.offered(pricing)[0] == demo.pk
    assert "Hi there!" in items_text(stranger.started(demo, pricing))

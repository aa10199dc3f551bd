"""The Marketo outbox (issue 6, "Reliability: the outbox"): captured person fields are queued in
the answer's transaction, drained in batches against the loopback fake, retried with backoff,
dead-lettered with the reasons and retried from the admin."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from tests.conftest import make_blueprint_dialogue
from tests.fakes import marketo as marketo_fakes
from wagtail_dynchat import conversations
from wagtail_dynchat.marketo import outbox, tasks
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.models import OutboxItem, Person

marketo_fake = marketo_fakes.marketo_fake

INDEX = "wagtail_dynchat_outbox:index"


@pytest.fixture(autouse=True)
def _fast_client(monkeypatch):
    # Two tries per call, no sleeping: retry storms are the outbox's job here.
    monkeypatch.setattr(
        tasks, "make_client", lambda: MarketoClient(max_attempts=2, sleep=lambda s: None)
    )


@pytest.fixture
def demo(pages):
    return make_blueprint_dialogue("book-a-demo", targets=[(pages["pricing"], "page")])


def _person(email, **fields):
    return Person.objects.create(email=email, **fields)


def _queue(*people):
    """One queued lead per person, without starting a drain."""
    for person in people:
        outbox.enqueue(
            OutboxItem.KIND_LEAD,
            f"lead:person:{person.pk}",
            outbox.lead_record(person, ["email"]),
            person=person,
        )


# -- enqueue ------------------------------------------------------------------------------


def test_lead_record_maps_fields_through_one_table(db):
    person = _person("ada@example.com", first_name="Ada", last_name="L", job_title="CTO")
    assert outbox.lead_record(person, ["job_title"]) == {"email": "ada@example.com", "title": "CTO"}
    assert outbox.lead_record(person, ["email"]) == {
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "L",
        "title": "CTO",
    }


def test_nothing_is_queued_without_marketo(chat, demo, pages, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        conversation = chat.start(demo, pages["pricing"]).json()["conversation"]
        conversation = chat.answer(conversation, 0).json()["conversation"]
        chat.answer(conversation, "ada@example.com")
    assert Person.objects.filter(email="ada@example.com").exists()
    assert not OutboxItem.objects.exists()


def test_answers_queue_one_lead_and_the_drain_sends_it(
    chat, demo, pages, marketo_fake, django_capture_on_commit_callbacks
):
    conversation = chat.start(demo, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    with django_capture_on_commit_callbacks() as callbacks:
        conversation = chat.answer(conversation, "Ada@Example.com").json()["conversation"]
    # Queued in the answer's transaction; the drain waits for the commit.
    item = OutboxItem.objects.get()
    assert (item.kind, item.status) == ("lead", "pending")
    assert item.payload == {"email": "ada@example.com"}
    assert len(callbacks) == 1
    assert not marketo_fake.calls("leads.sync")

    # A burst of answers about one person collapses into one item with the latest values.
    with django_capture_on_commit_callbacks():
        conversation = chat.answer(conversation, "Ada").json()["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        chat.answer(conversation, "Acme Ltd")
    item = OutboxItem.objects.get()
    assert item.status == "done"
    assert len(marketo_fake.calls("leads.sync")) == 1
    lead = marketo_fake.leads[int(item.marketo_id)]
    assert (lead["email"], lead["firstName"], lead["company"]) == (
        "ada@example.com",
        "Ada",
        "Acme Ltd",
    )


def test_a_rolled_back_answer_queues_nothing(chat, demo, pages, marketo_fake, monkeypatch):
    conversation = chat.start(demo, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(conversations, "_record", broken)
    with pytest.raises(RuntimeError):
        chat.answer(conversation, "ada@example.com")
    assert not OutboxItem.objects.exists()
    assert not Person.objects.filter(email="ada@example.com").exists()


# -- drain --------------------------------------------------------------------------------


def test_one_batch_for_many_items(marketo_fake, db):
    people = [_person(f"p{n}@example.com", first_name=f"P{n}") for n in range(25)]
    marketo_fake.add_lead(email="p3@example.com")
    _queue(*people)
    assert tasks.drain_outbox() == 25
    assert len(marketo_fake.calls("leads.sync")) == 1
    items = OutboxItem.objects.order_by("pk")
    assert {item.status for item in items} == {"done"}
    assert all(item.marketo_id for item in items)
    assert len({item.marketo_id for item in items}) == 25
    assert marketo_fake.leads[1]["firstName"] == "P3"  # the existing lead was updated


def test_more_items_than_a_batch_drain_in_several_calls(marketo_fake, db, settings):
    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "MARKETO": {**settings.WAGTAIL_DYNCHAT["MARKETO"], "BATCH_SIZE": 4},
    }
    _queue(*[_person(f"p{n}@example.com") for n in range(10)])
    tasks.drain_outbox()  # eager: re-enqueues itself while items are due
    assert len(marketo_fake.calls("leads.sync")) == 3
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {"done"}


def test_a_skipped_record_goes_dead_with_its_reason(marketo_fake, db):
    good = _person("good@example.com")
    _queue(good)
    bad = OutboxItem.objects.create(
        kind="lead", dedupe_key="lead:person:x", payload={"email": "bad@example.com", "nope": 1}
    )
    tasks.drain_outbox()
    bad.refresh_from_db()
    assert bad.status == "dead"
    assert "1006" in bad.last_error and "nope" in bad.last_error
    assert OutboxItem.objects.get(person=good).status == "done"


@pytest.mark.parametrize("storm", ["5xx", "606"])
def test_a_storm_puts_items_back_with_backoff(marketo_fake, db, storm):
    _queue(_person("a@example.com"), _person("b@example.com"))
    if storm == "5xx":
        marketo_fake.fail("leads.sync", 503, times=2)
    else:
        marketo_fake.fail_code("leads.sync", 606, times=2)
    before = timezone.now()
    assert tasks.drain_outbox() == 2
    for item in OutboxItem.objects.all():
        assert (item.status, item.attempts) == ("failed", 1)
        assert item.last_error
        # First backoff: between half and all of BACKOFF_BASE seconds.
        delay = (item.next_attempt_at - before).total_seconds()
        assert tasks.BACKOFF_BASE / 2 - 1 <= delay <= tasks.BACKOFF_BASE + 1
    # Not due yet: a drain now sends nothing.
    assert tasks.drain_outbox() == 0
    # Once due, they are sent.
    OutboxItem.objects.update(next_attempt_at=timezone.now())
    assert tasks.drain_outbox() == 2
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {"done"}


def test_items_failing_too_often_go_dead(marketo_fake, db):
    _queue(_person("a@example.com"))
    OutboxItem.objects.update(attempts=tasks.MAX_ATTEMPTS - 1)
    marketo_fake.fail("leads.sync", 500, times=2)
    tasks.drain_outbox()
    item = OutboxItem.objects.get()
    assert (item.status, item.attempts) == ("dead", tasks.MAX_ATTEMPTS)


def test_quota_exceeded_waits_for_the_daily_reset(marketo_fake, db):
    _queue(_person("a@example.com"))
    marketo_fake.fail_code("leads.sync", 607)
    tasks.drain_outbox()
    item = OutboxItem.objects.get()
    assert (item.status, item.attempts) == ("failed", 0)
    assert item.next_attempt_at > timezone.now() + datetime.timedelta(minutes=5)
    assert item.next_attempt_at < timezone.now() + datetime.timedelta(hours=25)


def test_an_item_sending_past_its_lease_is_reclaimed(marketo_fake, db):
    _queue(_person("a@example.com"), _person("b@example.com"))
    # A worker claimed both and died; one lease is over, the other is still running.
    stale = timezone.now() - datetime.timedelta(seconds=tasks.LEASE_SECONDS + 5)
    first, second = OutboxItem.objects.order_by("pk")
    OutboxItem.objects.filter(pk=first.pk).update(status="sending", claimed_at=stale)
    OutboxItem.objects.filter(pk=second.pk).update(status="sending", claimed_at=timezone.now())
    assert tasks.drain_outbox() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("done", "sending")
    assert len(marketo_fake.calls("leads.sync")) == 1


def test_a_newer_write_waits_for_the_one_in_flight(marketo_fake, db):
    person = _person("a@example.com", first_name="Ada")
    _queue(person)
    in_flight = OutboxItem.objects.get()
    OutboxItem.objects.filter(pk=in_flight.pk).update(
        status="sending", claimed_at=timezone.now() - datetime.timedelta(hours=1)
    )
    person.company = "Acme"
    person.save()
    newer = outbox.enqueue("lead", in_flight.dedupe_key, outbox.lead_record(person, ["company"]))
    # Started from the payload in flight, the newer values on top.
    assert newer.payload == {"email": "a@example.com", "firstName": "Ada", "company": "Acme"}
    # The lease ran out: the stale item is absorbed by the waiting one, sent once.
    tasks.drain_outbox()
    assert list(OutboxItem.objects.values_list("pk", "status")) == [(newer.pk, "done")]
    lead = marketo_fake.leads[1]
    assert (lead["firstName"], lead["company"]) == ("Ada", "Acme")


# -- admin --------------------------------------------------------------------------------


@pytest.fixture
def dead_item(db):
    person = _person("dead@example.com")
    return OutboxItem.objects.create(
        kind="lead",
        dedupe_key=f"lead:person:{person.pk}",
        payload={"email": "dead@example.com"},
        person=person,
        status="dead",
        attempts=8,
        last_error="HTTP 503: gave up",
    )


def test_admin_lists_dead_items_and_retry_sends_one(
    admin_client, dead_item, marketo_fake, django_capture_on_commit_callbacks
):
    done = OutboxItem.objects.create(kind="lead", dedupe_key="k", payload={}, status="done")
    # The outbox page grew into the Marketo page: its old address leads there.
    response = admin_client.get(reverse(INDEX), follow=True)
    assert response.status_code == 200
    content = response.content.decode()
    assert "dead@example.com" in content and "HTTP 503: gave up" in content
    assert f'data-outbox-item="{dead_item.pk}"' in content
    assert f'data-outbox-item="{done.pk}"' not in content

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(INDEX), {"only": dead_item.pk})
    assert response.status_code == 302
    dead_item.refresh_from_db()
    assert dead_item.status == "done" and dead_item.marketo_id
    assert marketo_fake.leads[int(dead_item.marketo_id)]["email"] == "dead@example.com"


def test_menu_item_only_with_marketo(admin_client, settings, marketo_fake):
    home = reverse("wagtailadmin_home")
    page = reverse("wagtail_dynchat_marketo_sync:index")
    assert page in admin_client.get(home).content.decode()
    settings.WAGTAIL_DYNCHAT = {}
    assert page not in admin_client.get(home).content.decode()


def test_retry_needs_csrf(dead_item, admin_user, marketo_fake):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(reverse(INDEX), {"only": dead_item.pk}).status_code == 403
    dead_item.refresh_from_db()
    assert dead_item.status == "dead"


def test_users_without_permission_get_no_access(client, django_user_model, dead_item):
    user = django_user_model.objects.create_user("editor", password="x")
    editors = Group.objects.create(name="Outbox-less editors")
    editors.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(editors)
    client.force_login(user)
    assert client.get(reverse(INDEX)).status_code in (302, 403)
    client.post(reverse(INDEX), {"only": dead_item.pk})
    dead_item.refresh_from_db()
    assert dead_item.status == "dead"

    editors.permissions.add(Permission.objects.get(codename="change_outboxitem"))
    user = django_user_model.objects.get(pk=user.pk)  # no cached permissions
    client.force_login(user)
    assert client.get(reverse(INDEX), follow=True).status_code == 200


# -- two workers (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_workers_never_claim_the_same_items():
    import threading

    from django.db import connection, connections, transaction

    from tests.conftest import require_service

    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/dynchat")
    for n in range(6):
        OutboxItem.objects.create(kind="lead", dedupe_key=f"k{n}", payload={"email": f"{n}@x.io"})
    locked, release = threading.Event(), threading.Event()
    held = []

    def other_worker():
        # A worker in the middle of its claim: it holds the row locks of the first three.
        try:
            with transaction.atomic():
                rows = OutboxItem.objects.select_for_update().order_by("pk")[:3]
                held.extend(row.pk for row in rows)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        claimed = tasks.claim(limit=6)
    finally:
        release.set()
        thread.join()
    assert len(claimed) == 3
    assert not {item.pk for item in claimed} & set(held)
    assert {item.status for item in claimed} == {"sending"}


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_test_connection_reports_what_marketo_answered(admin_client, marketo_fake, settings):
    answered = admin_client.post(reverse(INDEX), {"test": "1"}, follow=True)
    [message] = messages_of(answered)
    assert message.startswith("Connected to Marketo:") and "lead fields" in message

    marketo_fake.fail_code("*", "603", message="Access denied")
    refused = admin_client.post(reverse(INDEX), {"test": "1"}, follow=True)
    assert messages_of(refused) == ["Marketo answered with error 603: Access denied"]

    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "MARKETO": {**settings.WAGTAIL_DYNCHAT["MARKETO"], "CLIENT_SECRET": "wrong"},
    }
    from django.core.cache import caches

    caches["default"].clear()  # forget the token the first call cached
    wrong = admin_client.post(reverse(INDEX), {"test": "1"}, follow=True)
    assert messages_of(wrong)[0].startswith("Marketo refused the credentials")


def test_test_connection_without_marketo(admin_client, db):
    answered = admin_client.post(reverse(INDEX), {"test": "1"}, follow=True)
    assert messages_of(answered) == ["Marketo is not configured (WAGTAIL_DYNCHAT['MARKETO'])."]

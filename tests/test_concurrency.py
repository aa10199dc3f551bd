"""Races a real deployment meets: two tabs, double clicks, two visitors, several workers.

These need the real services: PostgreSQL (row locks and unique indexes under concurrent
transactions) and Redis (rate limits shared by processes). Each race is forced: the threads are
held at the critical point until both have reached it, so the code's own guards must resolve it.
"""

import contextlib
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.test import Client, override_settings

from wagtail_dynchat import engine
from wagtail_dynchat.api import throttles
from wagtail_dynchat.models import Conversation, ConversationEvent, Person, Visitor

from .conftest import ChatClient, require_service

ROOT = Path(__file__).resolve().parent.parent
transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/dynchat")


@pytest.fixture
def redis():
    if not os.environ.get("REDIS_URL"):
        require_service("Redis", "set REDIS_URL=redis://127.0.0.1:6379/15")
    try:
        caches["default"].set("dynchat:test:ping", 1, 5)
    except Exception as error:  # the cache backend's connection errors vary by client
        require_service("Redis", f"{os.environ['REDIS_URL']} is not reachable ({error})")


def run_together(*calls):
    """Run each call in its own thread and database connection, released at the same moment;
    returns their results in order."""
    start = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index, call):
        try:
            start.wait(timeout=10)
            results[index] = call()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def hold_until_both_arrive(monkeypatch, owner, name, *, when=lambda *a, **kw: True):
    """Make ``owner.name`` wait (at most a second) until two threads have called it, so that
    both are past their reads before either writes. A correct lock makes the wait time out."""
    original = getattr(owner, name)
    meeting = threading.Barrier(2)

    def held(*args, **kwargs):
        if when(*args, **kwargs):
            with contextlib.suppress(threading.BrokenBarrierError):
                meeting.wait(timeout=1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)


def browser_of(visitor):
    """A second tab of ``visitor``'s browser: same cookies, same visit."""
    chat = ChatClient()
    chat.client.cookies["dynchat_vid"] = visitor.key
    chat.client.cookies["dynchat_sid"] = visitor.session
    return chat


@transactional
def test_two_tabs_starting_a_dialogue_share_one_conversation(
    postgresql, simple_dialogue, pages, monkeypatch
):
    """Two tabs trigger the same dialogue at the same instant: one conversation is created, the
    other tab gets it too, and one trigger is counted."""
    visitor = Visitor.objects.create(person=Person.objects.create(), session="s" * 22, visits=1)
    tabs = [browser_of(visitor), browser_of(visitor)]
    hold_until_both_arrive(monkeypatch, engine, "start")

    responses = run_together(
        *(lambda tab=tab: tab.start(simple_dialogue, pages["pricing"]) for tab in tabs)
    )

    assert sorted(response.status_code for response in responses) == [200, 201]
    ids = {response.json()["conversation"]["id"] for response in responses}
    assert len(ids) == 1
    assert Conversation.objects.count() == 1
    assert ConversationEvent.objects.filter(kind=ConversationEvent.TRIGGERED).count() == 1


@transactional
def test_double_submitted_answer_is_accepted_once(postgresql, simple_dialogue, pages, monkeypatch):
    """The same answer sent twice at once (a double click, two tabs): one is accepted, the other
    is a 409, and one answer is recorded."""
    chat = ChatClient()
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    visitor = Visitor.objects.get()
    tabs = [browser_of(visitor), browser_of(visitor)]
    hold_until_both_arrive(monkeypatch, engine, "answer")

    responses = run_together(*(lambda tab=tab: tab.answer(conversation, 0) for tab in tabs))

    assert sorted(response.status_code for response in responses) == [200, 409]
    refused = next(response for response in responses if response.status_code == 409)
    assert refused.json()["error"] == "conflict"
    stored = Conversation.objects.get()
    assert stored.state["step"] == 1
    assert [item["kind"] for item in stored.transcript] == [
        "message",
        "question",
        "answer",
        "capture",
    ]
    events = list(stored.events.values_list("kind", flat=True))
    assert events.count(ConversationEvent.ANSWERED) == 1
    assert events.count(ConversationEvent.ENGAGED) == 1


@transactional
def test_two_visitors_giving_the_same_new_email_become_one_person(
    postgresql, simple_dialogue, pages, monkeypatch
):
    """Two browsers give the same new address at the same instant: both succeed, and they end
    up as one person owning it."""
    chats = [ChatClient(), ChatClient()]
    conversations = []
    for chat in chats:
        conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
        conversations.append(chat.answer(conversation, 0).json()["conversation"])
    assert Person.objects.count() == 2
    # Both have looked the address up (nobody owns it) before either claims it.
    hold_until_both_arrive(
        monkeypatch,
        Person,
        "save",
        when=lambda self, *args, **kwargs: kwargs.get("update_fields") == ["email", "updated_at"],
    )

    responses = run_together(
        *(
            lambda chat=chat, conversation=conversation: chat.answer(
                conversation, "Same@Example.com"
            )
            for chat, conversation in zip(chats, conversations, strict=True)
        )
    )

    assert [response.status_code for response in responses] == [200, 200]
    assert all(r.json()["conversation"]["status"] == "completed" for r in responses)
    person = Person.objects.get()
    assert person.email == "same@example.com"
    assert person.visitors.count() == 2
    assert set(Conversation.objects.values_list("person", flat=True)) == {person.pk}


# -- rate limits across processes --------------------------------------------------------------

WORKER = """
import json, sys
from types import SimpleNamespace

import django

django.setup()
from django.test import Client, override_settings

from wagtail_dynchat.api import throttles

rate, address, now, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
throttles.time = SimpleNamespace(time=lambda: now)
with override_settings(WAGTAIL_DYNCHAT={"RATE_LIMIT_IP": rate}):
    client = Client(REMOTE_ADDR=address)
    print("ready", flush=True)
    sys.stdin.readline()
    statuses = [client.get("/dynchat/api/bootstrap").status_code for _ in range(count)]
print(json.dumps(statuses), flush=True)
"""


def test_rate_limit_per_ip_is_shared_by_worker_processes(redis, monkeypatch, db):
    """Two worker processes serving the same address share one budget through Redis: of ten
    simultaneous calls against a limit of six, exactly six pass, and the next call anywhere is
    refused. Other addresses are unaffected."""
    now = 60 * 28_333_334 + 15.0
    address = f"test-{uuid.uuid4().hex}"  # no clash with other runs sharing the Redis database
    # The workers can't see the test database (SQLite's lives in this process): one bootstrap
    # from another address puts what they need (site, locale, targeting) in the shared cache.
    assert Client(REMOTE_ADDR=f"{address}-warm").get("/dynchat/api/bootstrap").status_code == 200
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, "6/m", address, str(now), "5"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        statuses = [json.loads(worker.stdout.readline()) for worker in workers]
    finally:
        for worker in workers:
            worker.stdin.close()
            worker.wait(timeout=30)
    assert [worker.returncode for worker in workers] == [0, 0]

    every = statuses[0] + statuses[1]
    assert sorted(every) == [200] * 6 + [429] * 4

    monkeypatch.setattr(throttles, "time", SimpleNamespace(time=lambda: now))
    with override_settings(WAGTAIL_DYNCHAT={"RATE_LIMIT_IP": "6/m"}):
        refused = Client(REMOTE_ADDR=address).get("/dynchat/api/bootstrap")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "45"
        assert (
            Client(REMOTE_ADDR=address + "-other").get("/dynchat/api/bootstrap").status_code == 200
        )

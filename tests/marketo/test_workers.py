"""The outbox drain in real Celery worker processes, on a real Redis broker (issue 6: "Killing a
worker at any point loses nothing"; "two workers together stay under the rate budget").

The workers (``tests/celery_worker.py``) run ``celery -A example_site worker`` against this
test's PostgreSQL database, the same Redis cache (one rate budget) and a queue of their own; the
Marketo they talk to is the loopback fake running in this process, which counts what it got.
Without PostgreSQL, Redis and a broker these tests skip with the reason (CI fails instead).
"""

import os
import re
import time
from collections import Counter

import pytest
from django.core.cache import caches
from django.db import connection

from tests.celery_worker import WorkerQueue
from tests.conftest import require_service
from tests.fakes.marketo import FakeMarketo
from wagtail_dynchat.models import OutboxItem

pytestmark = [
    pytest.mark.workers,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DRAIN = "wagtail_dynchat.marketo.tasks.drain_outbox"
#: Longest wait for the workers to finish, a guard against a hang rather than a budget.
DEADLINE = 90


@pytest.fixture
def services():
    """PostgreSQL (the test database the workers share), the Redis cache and a real broker."""
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/dynchat")
    if not os.environ.get("REDIS_URL"):
        require_service("Redis", "set REDIS_URL=redis://127.0.0.1:6379/15")
    try:
        caches["default"].set("dynchat:test:ping", 1, 5)
    except Exception as error:  # the cache backend's connection errors vary by client
        require_service("Redis", f"{os.environ['REDIS_URL']} is not reachable ({error})")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker or broker.startswith("memory"):
        require_service("Celery broker", "set CELERY_BROKER_URL=redis://127.0.0.1:6379/14")
    from kombu import Connection

    try:
        with Connection(broker, connect_timeout=2) as probe:
            probe.ensure_connection(max_retries=1)
    except Exception as error:  # kombu raises the transport's own errors
        require_service("Celery broker", f"{broker} is not reachable ({error})")


@pytest.fixture
def marketo():
    """Start a FakeMarketo with the given limits; stopped (and checked) at teardown."""
    started = []

    def start(**limits):
        fake = FakeMarketo(**limits).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()
    for fake in started:
        assert not fake.server_errors, "the Marketo fake crashed:\n" + "\n".join(fake.server_errors)


@pytest.fixture
def workers(services):
    """Open a WorkerQueue for a fake and MARKETO settings; its workers die at teardown."""
    opened = []

    def open_queue(fake, **marketo_settings):
        queue = WorkerQueue(
            connection.settings_dict["NAME"], {**fake.settings(), **marketo_settings}
        )
        opened.append(queue)
        return queue

    yield open_queue
    for queue in opened:
        # Shown by pytest only when the test failed.
        print(queue.logs())
        queue.close()


def queue_leads(count):
    """``count`` lead items waiting in the outbox, one per e-mail; returns the e-mails."""
    emails = [f"lead{n}@example.com" for n in range(count)]
    OutboxItem.objects.bulk_create(
        OutboxItem(kind="lead", dedupe_key=f"lead:test:{n}", payload={"email": email})
        for n, email in enumerate(emails)
    )
    return emails


def wait_for(condition, queue, what, *, resend_every=None, poll=0.02):
    """Poll ``condition`` until true; with ``resend_every``, send a drain that often, as Celery
    beat does. Fails with the workers' logs after :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    next_drain = time.monotonic() + (resend_every or 0)
    while not condition():
        now = time.monotonic()
        if now > deadline:
            pytest.fail(f"timed out waiting for {what}\n{queue.logs()}")
        if resend_every and now >= next_drain:
            queue.send(DRAIN, OutboxItem.KIND_LEAD)
            next_drain = now + resend_every
        time.sleep(poll)


def unfinished():
    return OutboxItem.objects.exclude(status=OutboxItem.STATUS_DONE).exists()


def assert_each_lead_once(fake, emails):
    with fake.lock:
        stored = Counter(lead["email"] for lead in fake.leads.values())
    assert set(stored) == set(emails)
    assert max(stored.values()) == 1, [email for email, n in stored.items() if n > 1][:5]


def test_a_worker_killed_mid_drain_loses_nothing(marketo, workers):
    fake = marketo()
    fake.latency = 0.3  # each call stays in flight long enough to be killed in
    emails = queue_leads(1000)
    queue = workers(fake, BATCH_SIZE=100, LEASE_SECONDS=5)
    first = queue.start_worker(pool="solo")
    queue.send(DRAIN, OutboxItem.KIND_LEAD)

    sending = OutboxItem.objects.filter(status=OutboxItem.STATUS_SENDING)
    done = OutboxItem.objects.filter(status=OutboxItem.STATUS_DONE)
    # Past its first batch, with the next claimed batch on the wire.
    wait_for(
        lambda: fake.calls("leads.sync") and fake.in_flight and sending.exists() and done.exists(),
        queue,
        "a leads.sync call in flight",
    )
    first.kill()
    assert not first.alive
    stuck = set(sending.values_list("pk", flat=True))
    assert 0 < len(stuck) <= 100
    assert done.count() >= 100

    second = queue.start_worker(pool="solo")
    queue.send(DRAIN, OutboxItem.KIND_LEAD)
    wait_for(lambda: not unfinished(), queue, "every item done", resend_every=1)

    statuses = Counter(OutboxItem.objects.values_list("status", flat=True))
    assert statuses == {"done": 1000}, statuses
    assert not OutboxItem.objects.filter(marketo_id="").exists()
    # The killed worker's batch came back through the lease, in one go, and was sent again.
    assert f"reclaimed {len(stuck)} items stuck in sending" in second.log()
    assert_each_lead_once(fake, emails)
    ids = OutboxItem.objects.values_list("marketo_id", flat=True)
    assert len(set(ids)) == 1000


def test_two_workers_stay_within_the_rate_budget(marketo, workers):
    # Marketo's instance limits (100 calls / 20 s, 10 concurrent) scaled down, and our budget
    # half of them, as the defaults are.
    fake = marketo(rate_calls=20, window=2, max_concurrent=4)
    fake.latency = 0.2
    emails = queue_leads(2000)
    queue = workers(fake, RATE_CALLS=10, RATE_WINDOW_SECONDS=2, MAX_CONCURRENT=2, BATCH_SIZE=50)
    pair = [queue.start_worker(pool="prefork", concurrency=2, wait=False) for _ in range(2)]
    for worker in pair:
        queue.wait_ready(worker)
    # Four drains: each re-enqueues itself while items are due, so four chains run at once
    # across the two workers' four processes, contending for one budget.
    for _ in range(4):
        queue.send(DRAIN, OutboxItem.KIND_LEAD)
    wait_for(lambda: not unfinished(), queue, "every item done", resend_every=5, poll=0.1)

    statuses = Counter(OutboxItem.objects.values_list("status", flat=True))
    assert statuses == {"done": 2000}, statuses
    assert_each_lead_once(fake, emails)
    assert len(fake.calls("leads.sync")) >= 2000 // 50
    assert fake.max_calls_in_window(2) <= 10
    assert fake.rejected["606"] == 0
    assert fake.rejected["615"] == 0
    assert fake.max_in_flight <= 2
    # Both workers did part of the work.
    sent = re.compile(r"drain_outbox\[[^\]]+\] succeeded in [\d.]+s: [1-9]")
    for worker in pair:
        assert sent.search(worker.log()), queue.logs()

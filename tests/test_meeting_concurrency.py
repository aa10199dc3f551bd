"""Booking races on PostgreSQL: many visitors, one slot; many bookings, one round-robin queue.

Free/busy is fed through the cache (no provider calls), and Celery publishes to its in-memory
broker instead of running the calendar tasks eagerly: these tests are about the reservation.
"""

import datetime
import threading

import pytest
from celery import current_app
from django.contrib.auth import get_user_model
from django.db import connection, connections

from wagtail_dynchat.meetings import booking
from wagtail_dynchat.models import Account, Agent, CalendarConnection, Meeting, QueueMember

from .conftest import require_service
from .meetings.test_routing import NOW, TEN, make_agent, make_queue, seed_busy

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/dynchat")


@pytest.fixture
def queued_tasks(monkeypatch):
    """Calendar tasks go to Celery's in-memory broker instead of running in the test."""
    monkeypatch.setitem(current_app.conf, "task_always_eager", False)


def book(start, email="visitor@example.org", queue=None):
    return booking.book(
        start=start,
        email=email,
        person=None,
        facts={},
        queue_id=queue.pk if queue else None,
        now=NOW,
    )


def in_threads(calls, workers):
    """Run the calls on ``workers`` threads (each with its own database connection) released at
    the same moment; their results, or the exceptions they raised, in order."""
    gate = threading.Barrier(workers)
    results = [None] * len(calls)
    pending = iter(enumerate(calls))
    lock = threading.Lock()

    def work():
        try:
            gate.wait(timeout=30)
            while True:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                index, call = item
                try:
                    results[index] = call()
                except Exception as error:
                    results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


@transactional
def test_fifty_visitors_racing_for_one_slot_get_one_meeting(postgresql, queued_tasks):
    agent = make_agent("ann")
    queue = make_queue("Solo", [agent])
    seed_busy([agent])

    results = in_threads(
        [lambda n=n: book(TEN, f"visitor{n}@example.org", queue) for n in range(50)], 50
    )

    meetings = [result for result in results if isinstance(result, Meeting)]
    refused = [result for result in results if not isinstance(result, Meeting)]
    assert len(meetings) == 1, refused[:3]
    assert all(isinstance(error, booking.SlotTaken) for error in refused), refused[:3]
    assert Meeting.objects.filter(agent=agent, starts_at=TEN).count() == 1
    assert QueueMember.objects.get(agent=agent).booked == 1


@transactional
def test_racing_account_bookings_are_refused_by_the_constraint(postgresql, queued_tasks):
    """No queue to lock: the unique constraint alone keeps the slot to one meeting."""
    owner = make_agent("ann")
    Account.objects.create(domain="acme.example", agent=owner)
    seed_busy([owner])

    results = in_threads([lambda n=n: book(TEN, f"p{n}@acme.example") for n in range(50)], 50)

    assert sum(isinstance(result, Meeting) for result in results) == 1
    assert all(isinstance(result, Meeting | booking.SlotTaken) for result in results), [
        r for r in results if not isinstance(r, Meeting | booking.SlotTaken)
    ][:3]
    assert Meeting.objects.count() == 1


@transactional
def test_a_thousand_bookings_share_a_round_robin_queue_evenly(postgresql, queued_tasks):
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"agent{n}", email=f"agent{n}@sales.example") for n in range(5)
    )
    week = {str(day): [["00:00", "23:45"]] for day in range(7)}
    agents = Agent.objects.bulk_create(
        Agent(
            user=user,
            availability=week,
            meeting_minutes=15,
            min_notice_hours=0,
            horizon_days=14,
        )
        for user in users
    )
    CalendarConnection.objects.bulk_create(
        CalendarConnection(
            agent=agent, provider="google", account=agent.user.email, encrypted_tokens=b""
        )
        for agent in agents
    )
    agents = list(Agent.objects.select_related("user", "connection").order_by("pk"))
    queue = make_queue("Round", agents)
    seed_busy(agents)

    # 1,000 distinct quarter hours from 09:00 on, skipping the 23:45 gap each day.
    starts, moment = [], NOW + datetime.timedelta(hours=1)
    while len(starts) < 1000:
        if (moment.hour, moment.minute) != (23, 45):
            starts.append(moment)
        moment += datetime.timedelta(minutes=15)

    results = in_threads([lambda s=s: book(s, queue=queue) for s in starts], 4)

    errors = [result for result in results if not isinstance(result, Meeting)]
    assert not errors, errors[:3]
    counts = {
        agent.pk: Meeting.objects.filter(agent=agent, status=Meeting.PENDING).count()
        for agent in agents
    }
    assert sorted(counts.values()) == [200] * 5
    assert sorted(QueueMember.objects.values_list("booked", flat=True)) == [200] * 5

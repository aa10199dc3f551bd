"""Routing: account → rules by priority → the card's queue → fallback, queue strategies, the log.

Free/busy is fed through the cache (the key :func:`availability.busy_cache_key` names), so these
tests make no provider calls: an agent whose calendar was not seeded would read as "free/busy
unknown".
"""

import datetime

import pytest
from django.contrib.auth import get_user_model

from wagtail_dynchat.meetings import availability, routing
from wagtail_dynchat.models import (
    Account,
    Agent,
    CalendarConnection,
    Meeting,
    MeetingQueue,
    QueueMember,
    RoutingRule,
)

UTC = datetime.UTC
# Monday 4 March 2030, 08:00 UTC: agents (UTC, no notice) work 09:00-12:00 and 13:00-17:00.
NOW = datetime.datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
TEN = datetime.datetime(2030, 3, 4, 10, 0, tzinfo=UTC)

# -- helpers (also used by test_booking and test_meeting_concurrency) ---------------------------


def make_agent(name, *, connected=True, provider="google", status="connected", **fields):
    user = get_user_model().objects.create_user(
        username=name, email=f"{name}@sales.example", first_name=name.title()
    )
    fields.setdefault("min_notice_hours", 0)
    agent = Agent.objects.create(user=user, **fields)
    if connected:
        CalendarConnection.objects.create(
            agent=agent,
            provider=provider,
            account=user.email,
            encrypted_tokens=b"",
            status=status,
        )
    return Agent.objects.select_related("user", "connection").get(pk=agent.pk)


def make_queue(name, agents, *, strategy=MeetingQueue.ROUND_ROBIN, weights=None, last=None):
    queue = MeetingQueue.objects.create(name=name, strategy=strategy, last_agent=last)
    for index, agent in enumerate(agents):
        QueueMember.objects.create(
            queue=queue,
            agent=agent,
            sort_order=index,
            weight=weights[index] if weights else 1,
        )
    return queue


def seed_busy(agents, busy=None, *, now=NOW):
    """Put the agents' free/busy (``{agent: [(start, end)]}``, default free) in the cache where
    routing reads it for requests made at ``now``."""
    busy = busy or {}
    agents = list(agents)
    window = availability.fetch_window(agents, now)
    from django.core.cache import cache

    for agent in agents:
        connection = availability.connection_of(agent)
        if connection is None:
            continue
        key = availability.busy_cache_key(connection.provider, connection.account, *window)
        cache.set(key, list(busy.get(agent, [])), 600)


def hold(agent, start, minutes=30, status=Meeting.SCHEDULED, email="someone@else.example"):
    return Meeting.objects.create(
        agent=agent,
        email=email,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=minutes),
        status=status,
    )


def rule(attribute, operator, value=""):
    return {"attribute": attribute, "operator": operator, "value": value, "key": ""}


def make_rule(name, queue, *rules, priority=50, active=True):
    routing_rule = RoutingRule(name=name, queue=queue, priority=priority, active=active)
    groups = [{"match": "all", "rules": list(rules)}] if rules else []
    routing_rule.audience = [("audience", {"match": "any", "groups": groups})]
    routing_rule.save()
    return routing_rule


def skipped(decision):
    """{(step, agent name): skip reason} from the decision's log."""
    return {
        (stage["step"], agent["name"].lower()): agent["skipped"]
        for stage in decision.log["stages"]
        for agent in stage["agents"]
    }


def names(agents):
    return [agent.user.username for agent in agents]


def route(**kwargs):
    kwargs.setdefault("email", "visitor@nowhere.example")
    kwargs.setdefault("person", None)
    kwargs.setdefault("facts", {})
    kwargs.setdefault("queue_id", None)
    kwargs.setdefault("now", NOW)
    return routing.route(**kwargs)


@pytest.fixture
def team(db):
    """Four agents in a round-robin queue, all free."""
    agents = [make_agent(name) for name in ("ann", "bob", "cat", "dan")]
    queue = make_queue("Sales", agents)
    seed_busy(agents)
    return queue, agents


# -- the steps ------------------------------------------------------------------------------------


def test_account_by_email_domain_routes_to_its_owner(team):
    queue, agents = team
    owner = agents[2]
    Account.objects.create(name="Acme", domain="acme.com", agent=owner)

    decision = route(email="Jo@ACME.com", queue_id=queue.pk, start=TEN)

    assert decision.step == "account"
    assert decision.candidates == [owner]
    assert decision.queue is None
    assert decision.log["account"]["matched_by"] == "domain"
    assert decision.log["step"] == "account"
    assert decision.log["candidates"] == [owner.pk]


def test_account_by_company_name_ignores_case(team):
    queue, agents = team
    Account.objects.create(name="Acme Inc", agent=agents[1])

    decision = route(
        email="jo@gmail.example", facts={"company.name": "  ACME inc "}, queue_id=queue.pk
    )

    assert decision.step == "account"
    assert names(decision.candidates) == ["bob"]
    assert decision.log["account"]["matched_by"] == "company"


def test_an_unavailable_owner_falls_through_to_the_queue_with_the_reason(team):
    queue, agents = team
    owner = agents[0]
    Account.objects.create(domain="acme.com", agent=owner)
    hold(owner, TEN)

    decision = route(email="jo@acme.com", queue_id=queue.pk, start=TEN)

    assert decision.step == "queue"
    assert names(decision.candidates) == ["bob", "cat", "dan"]
    assert skipped(decision)[("account", "ann")] == "no_free_slot"
    assert skipped(decision)[("queue", "ann")] == "no_free_slot"


def test_rules_by_priority_decide_before_the_card_queue(team):
    queue, _agents = team
    experts = [make_agent("eve"), make_agent("fay")]
    seed_busy(experts)
    mobile = make_queue("Mobile", experts[:1])
    emea = make_queue("EMEA", experts[1:])
    make_rule("Low", emea, rule("visitor.device", "is", "mobile"), priority=10)
    make_rule("High", mobile, rule("visitor.device", "is", "mobile"), priority=90)
    make_rule("Desktop", emea, rule("visitor.device", "is", "desktop"), priority=95)
    make_rule("Off", emea, priority=99, active=False)

    decision = route(facts={"visitor.device": "mobile"}, queue_id=queue.pk)

    assert decision.step == "rule"
    assert names(decision.candidates) == ["eve"]
    assert decision.queue == mobile
    assert [(r["name"], r["matched"]) for r in decision.log["rules"]] == [
        ("Desktop", False),
        ("High", True),
        ("Low", True),
    ]

    # Nobody in the first matching rule's queue is free: the next matching rule decides.
    experts[0].active = False
    experts[0].save()
    decision = route(facts={"visitor.device": "mobile"}, queue_id=queue.pk)
    assert decision.step == "rule"
    assert names(decision.candidates) == ["fay"]
    assert skipped(decision)[("rule", "eve")] == "inactive"


def test_the_card_queue_decides_when_no_account_or_rule_applies(team):
    queue, agents = team
    make_rule("Desktop", make_queue("Other", []), rule("visitor.device", "is", "desktop"))

    decision = route(facts={"visitor.device": "mobile"}, queue_id=queue.pk)

    assert decision.step == "queue"
    assert decision.candidates == agents
    assert decision.log["queue"]["name"] == "Sales"
    assert all(slots for slots in decision.slots.values())


def test_fallback_when_nobody_is_in_rotation(db):
    lonely = make_agent("ann", connected=False)
    queue = make_queue("Empty-ish", [lonely])

    decision = route(queue_id=queue.pk, start=TEN)

    assert decision.step == "fallback"
    assert decision.candidates == []
    assert not decision.taken
    assert skipped(decision) == {("queue", "ann"): "calendar_not_connected"}
    assert route(queue_id=None).log["why"]


def test_fallback_says_taken_when_agents_are_busy_at_that_time(team):
    queue, agents = team
    seed_busy(agents, {agent: [(TEN, TEN + datetime.timedelta(hours=1))] for agent in agents})

    decision = route(queue_id=queue.pk, start=TEN)

    assert decision.step == "fallback"
    assert decision.taken


def test_the_log_gives_every_skip_reason(db):
    now = NOW
    inactive = make_agent("ann", active=False)
    disconnected = make_agent("bob", connected=False)
    reauth = make_agent("cat", status=CalendarConnection.NEEDS_REAUTH)
    unknown = make_agent("dan")  # free/busy not in the cache and unreadable
    busy = make_agent("eve")
    capped = make_agent("fay", daily_cap=1)
    zero = make_agent("gus")
    free = make_agent("hal")
    agents = [inactive, disconnected, reauth, unknown, busy, capped, zero, free]
    queue = make_queue(
        "All", agents, strategy=MeetingQueue.WEIGHTED, weights=[1, 1, 1, 1, 1, 1, 0, 1]
    )
    seed_busy([busy, capped, zero, free], {busy: [(TEN, TEN + datetime.timedelta(minutes=30))]})
    hold(capped, TEN + datetime.timedelta(hours=5))

    decision = route(queue_id=queue.pk, start=TEN, now=now)

    assert skipped(decision) == {
        ("queue", "ann"): "inactive",
        ("queue", "bob"): "calendar_not_connected",
        ("queue", "cat"): "calendar_needs_reauth",
        ("queue", "dan"): "free_busy_unknown",
        ("queue", "eve"): "no_free_slot",
        ("queue", "fay"): "daily_cap",
        ("queue", "gus"): "zero_weight",
        ("queue", "hal"): None,
    }
    assert decision.candidates == [free]
    reasons = {agent["name"]: agent["why"] for agent in decision.log["stages"][0]["agents"]}
    assert reasons["Cat"] == str(routing.REASONS["calendar_needs_reauth"])


def test_offer_routing_skips_agents_without_any_free_slot(team):
    queue, agents = team
    week = (NOW, NOW + datetime.timedelta(days=30))
    seed_busy(agents, {agents[0]: [week]})

    decision = route(queue_id=queue.pk)

    assert names(decision.candidates) == ["bob", "cat", "dan"]
    assert skipped(decision)[("queue", "ann")] == "no_free_slot"
    assert decision.slots[agents[1].pk][0] == datetime.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


# -- queue strategies -----------------------------------------------------------------------------


def test_round_robin_starts_after_the_last_agent_and_wraps(team):
    queue, agents = team
    queue.last_agent = agents[2]  # cat had the last meeting: dan is next
    queue.save()

    assert names(route(queue_id=queue.pk, start=TEN).candidates) == ["dan", "ann", "bob", "cat"]


def test_round_robin_skips_agents_with_no_free_slot_then(team):
    queue, agents = team
    queue.last_agent = agents[2]
    queue.save()
    hold(agents[3], TEN)  # dan is booked then

    decision = route(queue_id=queue.pk, start=TEN)

    assert names(decision.candidates) == ["ann", "bob", "cat"]
    assert skipped(decision)[("queue", "dan")] == "no_free_slot"


def test_order_members_by_strategy(db):
    agents = [make_agent(name) for name in ("ann", "bob", "cat")]
    queue = make_queue("W", agents, strategy=MeetingQueue.WEIGHTED, weights=[2, 1, 1])
    members = list(queue.members.select_related("agent"))

    # Smooth weighted round robin: simulate 8 bookings, each taking the first in order.
    taken = []
    for _ in range(8):
        first = routing.order_members(queue, members)[0]
        first.booked += 1
        taken.append(first.agent.user.username)
    assert taken == ["ann", "bob", "cat", "ann", "ann", "bob", "cat", "ann"]

    queue.strategy = MeetingQueue.LEAST_RECENT
    agents[0].last_booked_at = NOW
    agents[1].last_booked_at = NOW - datetime.timedelta(days=1)
    for member in members:
        member.agent = next(agent for agent in agents if agent.pk == member.agent_id)
    order = routing.order_members(queue, members)
    assert [member.agent.user.username for member in order] == ["cat", "bob", "ann"]


def test_weighted_queue_routes_by_booked_and_weight(db):
    agents = [make_agent(name) for name in ("ann", "bob")]
    queue = make_queue("W", agents, strategy=MeetingQueue.WEIGHTED, weights=[3, 1])
    seed_busy(agents)
    QueueMember.objects.filter(agent=agents[0]).update(booked=3)  # ann: 4/3 > bob: 1/1

    assert names(route(queue_id=queue.pk, start=TEN).candidates) == ["bob", "ann"]

    QueueMember.objects.filter(agent=agents[1]).update(booked=1)  # bob: 2/1 > ann: 4/3
    assert names(route(queue_id=queue.pk, start=TEN).candidates) == ["ann", "bob"]


def test_least_recently_booked_first(db):
    agents = [make_agent(name) for name in ("ann", "bob", "cat")]
    queue = make_queue("L", agents, strategy=MeetingQueue.LEAST_RECENT)
    seed_busy(agents)
    Agent.objects.filter(pk=agents[0].pk).update(last_booked_at=NOW)
    Agent.objects.filter(pk=agents[2].pk).update(last_booked_at=NOW - datetime.timedelta(days=2))

    assert names(route(queue_id=queue.pk, start=TEN).candidates) == ["bob", "cat", "ann"]

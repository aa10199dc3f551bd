"""From the models to the slot maths: an agent's `Availability`, and free/busy for many agents.

Free/busy is asked in batches: all the agents of one provider in one request (Google freeBusy takes
many calendars per call, Graph getSchedule 20, and the provider module chunks), with the tokens of
any one usable connection of that provider. Answers are cached per calendar account and window for
``WAGTAIL_DYNCHAT["FREE_BUSY_CACHE_SECONDS"]``, so an offer, and the booking a minute later, make at
most one call per provider. A calendar we cannot read is never free: its agent gets ``None``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta

from django.core.cache import cache

from ..conf import dynchat_settings
from ..models import Agent, CalendarConnection
from ..models.meetings import parse_week
from . import slots

__all__ = [
    "availability_of",
    "busy_cache_key",
    "busy_for",
    "connection_of",
    "fetch_window",
]

logger = logging.getLogger(__name__)

UTC = datetime.UTC
_HOUR = timedelta(hours=1)


def availability_of(agent: Agent) -> slots.Availability:
    """The agent's booking rules as the slot maths reads them (raises ``ValueError`` or
    ``ValidationError`` for a malformed week, which the admin's validation prevents)."""
    return slots.Availability(
        time_zone=agent.time_zone or "UTC",
        weekly=parse_week(agent.availability),
        duration=timedelta(minutes=agent.meeting_minutes),
        buffer_after=timedelta(minutes=agent.buffer_minutes),
        min_notice=timedelta(hours=agent.min_notice_hours),
        horizon=timedelta(days=agent.horizon_days),
        daily_cap=agent.daily_cap,
    )


def fetch_window(agents: Iterable[Agent], now: datetime.datetime):
    """The free/busy window that covers every slot the agents can offer at ``now``.

    It starts at the hour ``now`` falls in and ends an hour after the longest horizon, so the
    window (and the cache key) stays the same for an hour: an offer and the booking that follows
    it read the same cached answer.
    """
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    horizon = max((agent.horizon_days for agent in agents), default=0)
    return start, start + timedelta(days=horizon) + _HOUR


def connection_of(agent: Agent) -> CalendarConnection | None:
    """The agent's calendar connection, or None (without a query when it was prefetched)."""
    try:
        return agent.connection
    except CalendarConnection.DoesNotExist:
        return None


def busy_cache_key(provider: str, account: str, start: datetime.datetime, end: datetime.datetime):
    """The cache key of one calendar's busy intervals over one window."""
    digest = hashlib.sha256(f"{provider}\n{account.strip().lower()}".encode()).hexdigest()[:32]
    return f"dynchat:busy:{digest}:{int(start.timestamp())}:{int(end.timestamp())}"


def _provider(name):
    from .connections import provider_module

    return provider_module(name)


def busy_for(agents: Iterable[Agent], start: datetime.datetime, end: datetime.datetime):
    """``{agent.pk: [(start, end), …] | None}``: each agent's busy intervals in ``[start, end)``.

    ``None`` means unknown (no calendar, a calendar that needs signing in again, or an error
    of the provider): routing treats the agent as never free. At most one request per provider.
    """
    agents = list(agents)
    result = {}
    by_provider = {}
    for agent in agents:
        connection = connection_of(agent)
        if connection is None or not connection.usable:
            result[agent.pk] = None
            continue
        by_provider.setdefault(connection.provider, []).append((agent, connection))
    for provider, members in by_provider.items():
        result.update(_provider_busy(provider, members, start, end))
    return result


def _provider_busy(provider, members, start, end):
    ttl = dynchat_settings.FREE_BUSY_CACHE_SECONDS
    keys = {}
    for _agent, connection in members:
        account = connection.account.strip().lower()
        keys[account] = busy_cache_key(provider, account, start, end)
    cached = cache.get_many(keys.values()) if ttl else {}
    known = {account: cached[key] for account, key in keys.items() if key in cached}
    missing = [account for account in keys if account not in known]
    if missing:
        fetched = _fetch(provider, members, missing, start, end)
        if fetched is not None:
            known.update(fetched)
            if ttl:
                cache.set_many({keys[account]: fetched[account] for account in fetched}, ttl)
    busy = {}
    for agent, connection in members:
        if not connection.usable:  # found revoked while fetching
            busy[agent.pk] = None
        else:
            busy[agent.pk] = known.get(connection.account.strip().lower())
    return busy


def _fetch(provider, members, accounts, start, end):
    """One free/busy request for ``accounts``; ``{account: busy | None}``, or None on failure.

    Any usable connection of the provider asks for all of them. Only when its grant turns out to
    be revoked (its agent then leaves rotation, see ``connections.mark_failing``) does the next
    connection ask again: one broken calendar must not hide everyone else's free time.
    """
    from . import connections
    from .providers.base import ProviderError, ReauthRequired

    module = _provider(provider)
    for _agent, connection in members:
        if not connection.usable:
            continue
        try:
            tokens = connections.tokens_for(connection)
        except ReauthRequired:  # tokens_for marked it: out of rotation, people told
            connection.status = CalendarConnection.NEEDS_REAUTH
            continue
        except ProviderError as error:
            logger.warning("Tokens of %s unavailable: %s", connection, error)
            continue
        except Exception:  # misconfiguration (no encryption key, …): unknown, never free
            logger.exception("Tokens of %s unavailable", connection)
            continue
        before = dataclasses.replace(tokens)
        try:
            answer = module.free_busy(tokens, list(accounts), start, end)
        except ReauthRequired as error:
            connections.mark_failing(connection, str(error))
            continue
        except ProviderError as error:
            logger.warning(
                "Free/busy from %s failed for %d calendars: %s", provider, len(accounts), error
            )
            return None
        finally:
            if tokens != before and connection.usable:  # refreshed on the way: keep them
                connections.save_tokens(connection, tokens)
        lowered = {str(email).strip().lower(): busy for email, busy in (answer or {}).items()}
        return {account: _normalise(lowered.get(account)) for account in accounts}
    return None


def _normalise(busy):
    if busy is None:
        return None
    intervals = []
    for begin, end in busy:
        if begin.tzinfo is None:
            begin = begin.replace(tzinfo=UTC)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        intervals.append((begin.astimezone(UTC), end.astimezone(UTC)))
    intervals.sort()
    return intervals

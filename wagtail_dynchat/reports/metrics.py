"""The query API of reports: metrics for a :class:`ReportFilters`, as plain dicts and lists.

Whole past days are read from the daily rollups; today (which has no rollup yet) is computed
from the raw events of today alone (:func:`.rollup.compute_day`), so no query ever scans more than
one day of events, and only for the rollup tables a metric reads; the result is cached for
``REPORT_LIVE_CACHE_SECONDS`` (:mod:`.live`), so today's figures may lag that long. Days in the
range that were never rolled up read as zero: :meth:`Report.coverage` lists them so a view can
say so.

Metric definitions (the product's):

- *triggered*: the dialogue was shown (once per visitor per session);
- *engaged*: the visitor answered a first card (once per visitor per session);
- *completed*: the end of a branch was reached (once per visitor per session);
- *people acquired*: a visitor gave an e-mail address nobody had before (once per visitor per
  session);
- *meetings booked*: meetings booked in the chat, on the day of booking;
- *goals reached*: goal cards passed (may repeat);
- *engagement rate* = engaged / triggered; *conversion rate* = people acquired / engaged
  (None when the denominator is zero).

Use one :class:`Report` for several metrics of the same filters (today's rows are read once per
rollup table), or the module-level functions for one.
"""

import dataclasses
import datetime
import uuid
from collections import defaultdict

from django.db.models import Sum
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from ..engine import flow as flow_reader
from ..models import (
    Agent,
    DailyCardStats,
    DailyChoiceStats,
    DailyGoalStats,
    DailyMeetingStats,
    DailyStats,
    Dialogue,
    FlowSnapshot,
    RollupDay,
)
from .live import live_rows
from .rollup import COUNTERS, local_today

#: Date range presets: how many days, today included.
PRESETS = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
CUSTOM = "custom"
#: The longest range a report covers (rollups are kept 24 months).
MAX_RANGE_DAYS = 731

VISITORS = {"all": None, "known": True, "anonymous": False}


class InvalidFilters(ValueError):
    """Filters a report cannot answer; ``message`` is for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class ReportFilters:
    """What a report covers: an inclusive range of local days and optional dimensions.

    ``dialogue`` is a dialogue's ``translation_key``: its translations are reported together
    (``locale_id`` narrows to one language). ``known`` is True for visitors with an e-mail
    address, False for anonymous ones, None for both. ``page_id`` is the page a conversation
    started on; the funnel (cards and choices) is not kept per page and ignores it.
    """

    start: datetime.date
    end: datetime.date
    preset: str = CUSTOM
    dialogue: uuid.UUID | None = None
    site_id: int | None = None
    locale_id: int | None = None
    known: bool | None = None
    page_id: int | None = None

    def __post_init__(self):
        if self.start > self.end:
            raise InvalidFilters(_("The start date must not be after the end date."))
        if (self.end - self.start).days + 1 > MAX_RANGE_DAYS:
            raise InvalidFilters(
                _("A report covers at most %(days)d days.") % {"days": MAX_RANGE_DAYS}
            )

    @classmethod
    def for_preset(cls, preset="30d", *, today=None, **dimensions):
        """The range of a preset (``today``, ``7d``, ``30d``, ``90d``) ending today."""
        if preset not in PRESETS:
            raise InvalidFilters(_("Unknown date range “%(preset)s”.") % {"preset": preset})
        today = today or local_today()
        start = today - datetime.timedelta(days=PRESETS[preset] - 1)
        return cls(start=start, end=today, preset=preset, **dimensions)

    @classmethod
    def from_params(cls, params, *, today=None):
        """Filters from query parameters (a view's ``request.GET``); raises
        :class:`InvalidFilters` with a readable message for anything invalid.

        ``range`` (a preset or ``custom``, default ``30d``), ``start``/``end`` (YYYY-MM-DD, for
        ``custom``), ``dialogue`` (a translation key), ``site``, ``locale``, ``page`` (ids) and
        ``visitors`` (``all``, ``known``, ``anonymous``).
        """
        today = today or local_today()
        dimensions = {
            "dialogue": _uuid(params.get("dialogue")),
            "site_id": _integer(params.get("site"), _("site")),
            "locale_id": _integer(params.get("locale"), _("locale")),
            "page_id": _integer(params.get("page"), _("page")),
        }
        visitors = params.get("visitors") or "all"
        if visitors not in VISITORS:
            raise InvalidFilters(_("Visitors must be all, known or anonymous."))
        dimensions["known"] = VISITORS[visitors]
        preset = params.get("range") or "30d"
        if preset != CUSTOM:
            return cls.for_preset(preset, today=today, **dimensions)
        start, end = _date(params.get("start"), _("start")), _date(params.get("end"), _("end"))
        if end > today:
            raise InvalidFilters(_("The end date must not be in the future."))
        return cls(start=start, end=end, preset=CUSTOM, **dimensions)

    def with_dialogue(self, dialogue):
        """These filters narrowed to a dialogue (a Dialogue or a translation key) and its
        translations."""
        key = getattr(dialogue, "translation_key", dialogue)
        return dataclasses.replace(self, dialogue=_uuid(key))

    @property
    def days(self):
        """Every day of the range, in order."""
        count = (self.end - self.start).days + 1
        return [self.start + datetime.timedelta(days=offset) for offset in range(count)]


def _uuid(value):
    if value in (None, ""):
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidFilters(_("“%(value)s” is not a dialogue.") % {"value": value}) from None


def _integer(value, name):
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise InvalidFilters(_("The %(name)s must be an id.") % {"name": name})
    return number


def _date(value, name):
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        raise InvalidFilters(_("Enter the %(name)s date as YYYY-MM-DD.") % {"name": name}) from None


def _rate(numerator, denominator):
    return round(numerator / denominator, 4) if denominator else None


def _with_rates(counters):
    counters["engagement_rate"] = _rate(counters["engaged"], counters["triggered"])
    counters["conversion_rate"] = _rate(counters["people_acquired"], counters["engaged"])
    return counters


def _has_field(model, name):
    return any(field.name == name for field in model._meta.get_fields())


class Report:
    """Metrics for one set of filters. ``now`` fixes the clock (tests, reproducible exports)."""

    def __init__(self, filters, *, now=None):
        self.filters = filters
        self.now = now
        self.today = local_today(now)
        if filters.end > self.today:
            raise InvalidFilters(_("The end date must not be in the future."))
        # Today's rows per rollup table, computed when a metric first needs them.
        self._today_rows = {}

    # -- reading rows ----------------------------------------------------------------------

    def _dimension_filter(self, model):
        f = self.filters
        wanted = {
            "translation_key": f.dialogue,
            "site_id": f.site_id,
            "locale_id": f.locale_id,
            "known": f.known,
        }
        if _has_field(model, "page_id"):
            wanted["page_id"] = f.page_id
        return {name: value for name, value in wanted.items() if value is not None}

    def _live(self, model):
        """Today's rows of ``model`` matching the filters (dicts), computed from today's events
        (or the cache, see :mod:`.live`) once per report and table."""
        if self.filters.end < self.today:
            return []
        rows = self._today_rows.get(model)
        if rows is None:
            rows = self._today_rows[model] = live_rows(self.today, model, now=self.now)
        wanted = self._dimension_filter(model)
        return [row for row in rows if all(row[name] == value for name, value in wanted.items())]

    def _sum(self, model, group_by, fields):
        """``{group key tuple: {field: sum}}`` over stored rollups of the whole past days in the
        range and today's live rows."""
        totals = defaultdict(lambda: dict.fromkeys(fields, 0))
        last_stored = min(self.filters.end, self.today - datetime.timedelta(days=1))
        if self.filters.start <= last_stored:
            rows = model.objects.filter(
                day__gte=self.filters.start, day__lte=last_stored, **self._dimension_filter(model)
            )
            sums = {f"s_{name}": Sum(name) for name in fields}
            if group_by:
                stored = rows.values(*group_by).annotate(**sums).order_by()
            else:
                # values() without fields would group by every column.
                stored = [rows.aggregate(**sums)]
            for row in stored:
                target = totals[tuple(row[name] for name in group_by)]
                for name in fields:
                    target[name] += row[f"s_{name}"] or 0
        for row in self._live(model):
            target = totals[tuple(row[name] for name in group_by)]
            for name in fields:
                target[name] += row[name]
        return totals

    # -- metrics ---------------------------------------------------------------------------

    def totals(self):
        """The headline counters and rates over the whole range."""
        summed = self._sum(DailyStats, (), COUNTERS)
        return _with_rates(dict(summed.get((), dict.fromkeys(COUNTERS, 0))))

    def by_day(self):
        """The headline counters and rates of each day of the range (days without data as 0)."""
        summed = self._sum(DailyStats, ("day",), COUNTERS)
        return [
            {"day": day, **_with_rates(dict(summed.get((day,), dict.fromkeys(COUNTERS, 0))))}
            for day in self.filters.days
        ]

    def by_dialogue(self):
        """The counters and rates per dialogue (translations together), most triggered first.

        Each entry names the dialogue (its current name, in the first locale found) and lists
        the ids of its translations seen in the range.
        """
        summed = self._sum(DailyStats, ("translation_key", "dialogue_id"), COUNTERS)
        grouped = {}
        for (key, dialogue_id), counters in summed.items():
            entry = grouped.setdefault(
                key,
                {"translation_key": key, "dialogue_ids": [], **dict.fromkeys(COUNTERS, 0)},
            )
            if dialogue_id is not None:
                entry["dialogue_ids"].append(dialogue_id)
            for name in COUNTERS:
                entry[name] += counters[name]
        names = {}
        keys = [key for key in grouped if key is not None]
        for dialogue in Dialogue.objects.filter(translation_key__in=keys).order_by("pk"):
            names.setdefault(dialogue.translation_key, dialogue.name)
        result = []
        for key, entry in grouped.items():
            entry["dialogue_ids"].sort()
            entry["name"] = names.get(key) or _("(deleted dialogue)")
            result.append(_with_rates(entry))
        result.sort(key=lambda entry: (-entry["triggered"], entry["name"]))
        return result

    def funnel(self, dialogue=None):
        """The funnel of one dialogue (``dialogue`` or the filters' one): per card, in the
        order of the dialogue's latest flow, how many conversations reached, answered and
        dropped at it, with the distribution of choices of question cards.

        Returns ``{"translation_key", "cards": [{"card", "type", "label", "reached",
        "answered", "dropped", "drop_rate", "choices": [{"value", "label", "count"}]}]}``.
        Cards no longer in the flow come last.
        """
        report = self
        if dialogue is not None:
            report = Report(self.filters.with_dialogue(dialogue), now=self.now)
            report._today_rows = self._today_rows
        key = report.filters.dialogue
        if key is None:
            raise InvalidFilters(_("Choose a dialogue to see its funnel."))
        summed_cards = report._sum(DailyCardStats, ("card",), ("reached", "answered", "dropped"))
        counts = {card: summed for (card,), summed in summed_cards.items()}
        choices = report._sum(DailyChoiceStats, ("card", "value", "label"), ("count",))
        by_card = defaultdict(list)
        for (card, value, label), summed in choices.items():
            by_card[card].append({"value": value, "label": label, "count": summed["count"]})
        layout = _flow_layout(key, report.filters.locale_id)
        ordered = [card for card in layout if card in counts or card in by_card]
        ordered += sorted(card for card in {*counts, *by_card} if card not in layout)
        cards = []
        for card_id in ordered:
            summed = counts.get(card_id, {"reached": 0, "answered": 0, "dropped": 0})
            card_type, label = layout.get(card_id, ("", ""))
            cards.append(
                {
                    "card": card_id,
                    "type": card_type,
                    "label": label,
                    **summed,
                    "drop_rate": _rate(summed["dropped"], summed["reached"]),
                    "choices": sorted(
                        by_card.get(card_id, []), key=lambda choice: -choice["count"]
                    ),
                }
            )
        return {"translation_key": key, "cards": cards}

    def goals(self):
        """Goals reached per goal name, most reached first: ``[{"goal", "count"}]``."""
        summed = self._sum(DailyGoalStats, ("goal",), ("count",))
        result = [{"goal": goal, "count": counts["count"]} for (goal,), counts in summed.items()]
        result.sort(key=lambda entry: (-entry["count"], entry["goal"]))
        return result

    def meetings_by_agent(self):
        """Meetings booked per agent, most first: ``[{"agent_id", "agent", "booked",
        "cancelled"}]`` (``agent`` is the agent's current name)."""
        summed = self._sum(DailyMeetingStats, ("agent_id",), ("booked", "cancelled"))
        agents = Agent.objects.filter(pk__in=[agent for (agent,) in summed if agent is not None])
        names = {agent.pk: str(agent) for agent in agents.select_related("user")}
        result = [
            {"agent_id": agent, "agent": names.get(agent, _("(deleted agent)")), **counts}
            for (agent,), counts in summed.items()
        ]
        result.sort(key=lambda entry: (-entry["booked"], entry["agent"]))
        return result

    def top_pages(self, limit=10):
        """The pages conversations started on, most engaged first: counters and rates per
        ``page_id`` (None: conversations started outside a Wagtail page), with the page's
        current title and URL when it still exists. ``limit`` None lists every page."""
        from wagtail.models import Page

        summed = self._sum(DailyStats, ("page_id",), COUNTERS)
        ranked = sorted(
            summed.items(), key=lambda item: (-item[1]["engaged"], -item[1]["triggered"])
        )[:limit]
        pages = Page.objects.filter(
            pk__in=[page for (page,), _counters in ranked if page is not None]
        )
        found = {page.pk: page for page in pages.specific(defer=True)}
        result = []
        for (page_id,), counters in ranked:
            page = found.get(page_id)
            result.append(
                {
                    "page_id": page_id,
                    "title": page.title if page else "",
                    "url": page.get_url() if page else "",
                    **_with_rates(dict(counters)),
                }
            )
        return result

    def coverage(self):
        """Past days of the range that were never rolled up (they read as zero):
        ``{"missing_days": [date, …]}``."""
        last_stored = min(self.filters.end, self.today - datetime.timedelta(days=1))
        done = set(
            RollupDay.objects.filter(day__gte=self.filters.start, day__lte=last_stored).values_list(
                "day", flat=True
            )
        )
        return {
            "missing_days": [
                day for day in self.filters.days if day <= last_stored and day not in done
            ]
        }


def _flow_layout(translation_key, locale_id=None):
    """``{card id: (type, short label)}`` of the latest flow of a dialogue, in flow order."""
    dialogues = Dialogue.objects.filter(translation_key=translation_key)
    if locale_id is not None:
        dialogues = dialogues.filter(locale_id=locale_id)
    snapshot = (
        FlowSnapshot.objects.filter(dialogue__in=dialogues).order_by("-created_at", "-pk").first()
    )
    layout = {}
    if snapshot is None:
        return layout
    for branch in flow_reader.branches(snapshot.flow):
        for card in flow_reader.cards(branch):
            card_id = flow_reader.card_id(card)
            if not card_id or card_id in layout:
                continue
            text = next(
                (
                    flow_reader.text(card.get(name))
                    for name in ("name", "html", "prompt", "title", "text")
                    if flow_reader.text(card.get(name))
                ),
                "",
            )
            layout[card_id] = (flow_reader.card_type(card), strip_tags(text).strip()[:80])
    return layout


def totals(filters):
    """The headline counters and rates (see :meth:`Report.totals`)."""
    return Report(filters).totals()


def by_day(filters):
    """The headline counters per day (see :meth:`Report.by_day`)."""
    return Report(filters).by_day()


def by_dialogue(filters):
    """The headline counters per dialogue (see :meth:`Report.by_dialogue`)."""
    return Report(filters).by_dialogue()


def funnel(dialogue, filters):
    """The funnel of a dialogue (see :meth:`Report.funnel`)."""
    return Report(filters).funnel(dialogue)


def goals(filters):
    """Goals reached per goal (see :meth:`Report.goals`)."""
    return Report(filters).goals()


def meetings_by_agent(filters):
    """Meetings booked per agent (see :meth:`Report.meetings_by_agent`)."""
    return Report(filters).meetings_by_agent()


def top_pages(filters, limit=10):
    """The most engaging pages (see :meth:`Report.top_pages`)."""
    return Report(filters).top_pages(limit)

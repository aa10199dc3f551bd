"""The pure slot engine: working hours, DST, notice, horizon, busy time, buffers, caps and zones.

Dates are in 2026: Monday 2 March is an ordinary week; Europe/Berlin springs forward on Sunday
29 March (02:00 → 03:00) and falls back on Sunday 25 October (03:00 → 02:00); America/New_York
springs forward on Sunday 8 March and falls back on Sunday 1 November (both at 02:00).
"""

import datetime
import random
from collections import Counter
from datetime import time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from wagtail_dynchat.meetings.slots import Availability, agent_slots, group_by_day, queue_slots

UTC = datetime.UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
MONDAY = datetime.date(2026, 3, 2)
NINE_TO_FIVE = [(time(9), time(17))]
WEEKDAYS = dict.fromkeys(range(5), NINE_TO_FIVE)


def minutes(n):
    return timedelta(minutes=n)


def utc(day, hour=0, minute=0):
    return datetime.datetime.combine(day, time(hour, minute), UTC)


def availability(weekly=None, time_zone="UTC", **options):
    """An availability with no minimum notice unless asked: most tests are about something else."""
    options.setdefault("min_notice", timedelta(0))
    return Availability(time_zone, WEEKDAYS if weekly is None else weekly, **options)


def on_day(rules, day, **kwargs):
    """The slots of one local day of the agent, asked the day before."""
    zone = ZoneInfo(rules.time_zone)
    start = datetime.datetime.combine(day, time(0), zone)
    end = datetime.datetime.combine(day + timedelta(days=1), time(0), zone)
    return agent_slots(rules, now=start - timedelta(days=1), start=start, end=end, **kwargs)


def clock(slots, zone=UTC):
    """The slots as HH:MM on the wall clock of ``zone``."""
    return [f"{slot.astimezone(zone):%H:%M}" for slot in slots]


def half_hours(first, last):
    """ "HH:MM" every 30 minutes from ``first`` to ``last`` included, e.g. ("09:00", "16:30")."""
    h, m = map(int, first.split(":"))
    moment, end, result = h * 60 + m, int(last[:2]) * 60 + int(last[3:]), []
    while moment <= end:
        result.append(f"{moment // 60:02d}:{moment % 60:02d}")
        moment += 30
    return result


# --- Availability validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [(time(22), time(2)), (time(17), time(9)), (time(23, 30), time(0, 30))],
)
def test_blocks_spanning_midnight_are_refused(block):
    with pytest.raises(ValueError, match="split it"):
        Availability("UTC", {0: [block]})


def test_an_empty_block_is_refused():
    with pytest.raises(ValueError, match="empty"):
        Availability("UTC", {0: [(time(9), time(9))]})


@pytest.mark.parametrize(
    "blocks",
    [
        [(time(9), time(12)), (time(11), time(13))],
        [(time(9), time(12)), (time(9), time(12))],
        [(time(13), time(17)), (time(9), time(14))],
        [(time(20), time(0)), (time(22), time(23))],
    ],
)
def test_overlapping_blocks_are_refused(blocks):
    with pytest.raises(ValueError, match="overlap"):
        Availability("UTC", {2: blocks})


def test_touching_blocks_and_a_block_to_midnight_are_accepted():
    Availability("UTC", {0: [(time(9), time(12)), (time(12), time(17)), (time(22), time(0))]})
    Availability("UTC", {0: [(time(0), time(0))]})  # the whole day


@pytest.mark.parametrize("day", [-1, 7, "monday", True])
def test_weekdays_are_0_to_6(day):
    with pytest.raises(ValueError, match="Weekday"):
        Availability("UTC", {day: NINE_TO_FIVE})


def test_block_times_must_be_naive_times():
    with pytest.raises(ValueError, match="naive"):
        Availability("UTC", {0: [(time(9, tzinfo=UTC), time(17))]})
    with pytest.raises(ValueError, match=r"datetime\.time"):
        Availability("UTC", {0: [("09:00", "17:00")]})


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ValueError, match="time zone"):
        Availability(name, WEEKDAYS)


@pytest.mark.parametrize(
    "options",
    [
        {"duration": timedelta(0)},
        {"duration": minutes(-30)},
        {"buffer_after": minutes(-5)},
        {"min_notice": minutes(-1)},
        {"horizon": timedelta(days=-1)},
        {"daily_cap": -1},
        {"step": timedelta(0)},
    ],
)
def test_impossible_settings_are_refused(options):
    with pytest.raises(ValueError):
        Availability("UTC", WEEKDAYS, **options)


def test_defaults():
    rules = Availability("Europe/Berlin", WEEKDAYS)
    assert rules.duration == minutes(30)
    assert rules.buffer_after == timedelta(0)
    assert rules.min_notice == timedelta(hours=24)
    assert rules.horizon == timedelta(days=14)
    assert rules.daily_cap is None
    assert rules.step is None
    assert rules.zone == BERLIN


# --- Working hours ----------------------------------------------------------------------------


def test_a_day_of_nine_to_five_gives_sixteen_half_hours():
    slots = on_day(availability(), MONDAY)
    assert clock(slots) == half_hours("09:00", "16:30")


def test_slots_are_aware_utc_and_ascending():
    slots = agent_slots(availability(), now=utc(MONDAY))
    assert slots == sorted(slots)
    assert len(set(slots)) == len(slots)
    assert all(slot.tzinfo is UTC for slot in slots)


def test_several_blocks_a_day():
    rules = availability({0: [(time(9), time(12)), (time(13), time(17))]})
    slots = on_day(rules, MONDAY)
    assert clock(slots) == half_hours("09:00", "11:30") + half_hours("13:00", "16:30")


def test_blocks_may_be_given_in_any_order():
    rules = availability({0: [(time(13), time(17)), (time(9), time(12))]})
    assert clock(on_day(rules, MONDAY)) == half_hours("09:00", "11:30") + half_hours(
        "13:00", "16:30"
    )


def test_a_meeting_must_fit_inside_one_block():
    # 45 minutes: 09:45 would fit in the two touching blocks together, but in neither alone.
    rules = availability({0: [(time(9), time(10)), (time(10), time(11))]}, duration=minutes(45))
    assert clock(on_day(rules, MONDAY)) == ["09:00", "10:00"]


def test_the_last_slot_ends_at_the_end_of_the_block():
    rules = availability({0: [(time(9), time(11))]}, duration=minutes(45))
    assert clock(on_day(rules, MONDAY)) == ["09:00", "09:45"]


def test_a_block_shorter_than_a_meeting_offers_nothing():
    rules = availability({0: [(time(9), time(9, 20))]})
    assert on_day(rules, MONDAY) == []


def test_a_block_ending_at_midnight_runs_to_the_end_of_the_day():
    rules = availability({0: [(time(22), time(0))], 1: [(time(0), time(1))]})
    slots = agent_slots(rules, now=utc(MONDAY), end=utc(MONDAY + timedelta(days=2)))
    assert [f"{slot:%a %H:%M}" for slot in slots] == [
        "Mon 22:00",
        "Mon 22:30",
        "Mon 23:00",
        "Mon 23:30",
        "Tue 00:00",
        "Tue 00:30",
    ]


def test_days_without_blocks_offer_nothing():
    rules = availability({2: NINE_TO_FIVE})  # Wednesdays only
    slots = agent_slots(rules, now=utc(MONDAY))
    assert {slot.weekday() for slot in slots} == {2}
    assert len(slots) == 2 * 16  # two Wednesdays in 14 days


@pytest.mark.parametrize("weekly", [{}, {0: []}, dict.fromkeys(range(7), ())])
def test_an_empty_week_offers_nothing(weekly):
    assert agent_slots(Availability("UTC", weekly, min_notice=timedelta(0)), now=utc(MONDAY)) == []


def test_working_hours_are_in_the_agents_time_zone():
    rules = availability(time_zone="Asia/Kolkata")
    slots = on_day(rules, MONDAY)
    assert clock(slots, KOLKATA) == half_hours("09:00", "16:30")
    assert clock(slots) == half_hours("03:30", "11:00")  # +05:30


# --- DST ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "before", "after", "utc_before", "utc_after"),
    [
        # Friday before and Monday after each change.
        (BERLIN, datetime.date(2026, 3, 27), datetime.date(2026, 3, 30), "08:00", "07:00"),
        (BERLIN, datetime.date(2026, 10, 23), datetime.date(2026, 10, 26), "07:00", "08:00"),
        (NEW_YORK, datetime.date(2026, 3, 6), datetime.date(2026, 3, 9), "14:00", "13:00"),
        (NEW_YORK, datetime.date(2026, 10, 30), datetime.date(2026, 11, 2), "13:00", "14:00"),
    ],
)
def test_nine_to_five_stays_nine_to_five_across_dst(zone, before, after, utc_before, utc_after):
    rules = availability(time_zone=zone.key)
    for day, first_utc in ((before, utc_before), (after, utc_after)):
        slots = on_day(rules, day)
        assert clock(slots, zone) == half_hours("09:00", "16:30")
        assert clock(slots)[0] == first_utc


@pytest.mark.parametrize(
    ("zone", "sunday"),
    [
        (BERLIN, datetime.date(2026, 3, 29)),
        (BERLIN, datetime.date(2026, 10, 25)),
        (NEW_YORK, datetime.date(2026, 3, 8)),
        (NEW_YORK, datetime.date(2026, 11, 1)),
    ],
)
def test_working_hours_on_the_day_of_the_change(zone, sunday):
    rules = availability({6: NINE_TO_FIVE}, time_zone=zone.key)
    assert clock(on_day(rules, sunday), zone) == half_hours("09:00", "16:30")


def test_horizon_over_a_change_keeps_local_hours_every_day():
    rules = availability(time_zone="Europe/Berlin")
    now = datetime.datetime(2026, 10, 19, tzinfo=BERLIN)  # Monday; the change is on the 25th
    slots = agent_slots(rules, now=now)
    per_day = Counter(slot.astimezone(BERLIN).date() for slot in slots)
    assert len(per_day) == 10
    assert set(per_day.values()) == {16}
    assert {f"{slot.astimezone(BERLIN):%H:%M}" for slot in slots} == set(
        half_hours("09:00", "16:30")
    )


@pytest.mark.parametrize(
    ("zone", "sunday", "expected"),
    [
        # 02:00-03:00 does not exist: the block holds one real hour.
        (BERLIN, datetime.date(2026, 3, 29), ["01:30+0100", "03:00+0200"]),
        (NEW_YORK, datetime.date(2026, 3, 8), ["01:30-0500", "03:00-0400"]),
    ],
)
def test_spring_forward_night_offers_no_impossible_slots(zone, sunday, expected):
    rules = availability({6: [(time(1, 30), time(3, 30))]}, time_zone=zone.key)
    slots = on_day(rules, sunday)
    assert [f"{slot.astimezone(zone):%H:%M%z}" for slot in slots] == expected
    assert slots[1] - slots[0] == minutes(30)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        # A block starting in the gap starts when the clocks jump.
        ((time(2), time(4)), ["03:00", "03:30"]),
        ((time(2, 30), time(4)), ["03:00", "03:30"]),
        # A block ending in the gap ends when the clocks jump.
        ((time(1), time(2, 30)), ["01:00", "01:30"]),
        # A block entirely in the gap does not exist.
        ((time(2), time(2, 59)), []),
    ],
)
def test_blocks_touching_the_spring_forward_gap(block, expected):
    rules = availability({6: [block]}, time_zone="Europe/Berlin")
    assert clock(on_day(rules, datetime.date(2026, 3, 29)), BERLIN) == expected


@pytest.mark.parametrize(
    ("zone", "sunday", "expected"),
    [
        # 02:00-03:00 happens twice: three real hours, six distinct instants.
        (
            BERLIN,
            datetime.date(2026, 10, 25),
            ["01:30+0200", "02:00+0200", "02:30+0200", "02:00+0100", "02:30+0100", "03:00+0100"],
        ),
        # 01:00-02:00 happens twice.
        (
            NEW_YORK,
            datetime.date(2026, 11, 1),
            ["01:30-0400", "01:00-0500", "01:30-0500", "02:00-0500", "02:30-0500", "03:00-0500"],
        ),
    ],
)
def test_fall_back_night_offers_each_instant_once(zone, sunday, expected):
    rules = availability({6: [(time(1, 30), time(3, 30))]}, time_zone=zone.key)
    slots = on_day(rules, sunday)
    assert [f"{slot.astimezone(zone):%H:%M%z}" for slot in slots] == expected
    assert all(later - earlier == minutes(30) for earlier, later in pairwise(slots))


def test_ambiguous_block_edges_are_their_first_occurrence():
    # Berlin, 25 October: 02:00-02:30 is read in summer time, not twice.
    rules = availability({6: [(time(2), time(2, 30))]}, time_zone="Europe/Berlin")
    slots = on_day(rules, datetime.date(2026, 10, 25))
    assert [f"{slot.astimezone(BERLIN):%H:%M%z}" for slot in slots] == ["02:00+0200"]


@pytest.mark.parametrize("fold", [0, 1])
def test_fold_of_the_block_times_does_not_matter(fold):
    rules = availability({6: [(time(1, 30, fold=fold), time(3, 30, fold=fold))]}, "Europe/Berlin")
    assert len(on_day(rules, datetime.date(2026, 10, 25))) == 6


# --- Notice, horizon and window --------------------------------------------------------------


def test_minimum_notice_defaults_to_24_hours():
    rules = Availability("UTC", WEEKDAYS)
    slots = agent_slots(rules, now=utc(MONDAY, 10, 5))
    assert slots[0] == utc(MONDAY + timedelta(days=1), 10, 30)


@pytest.mark.parametrize(
    ("notice", "first"),
    [
        (timedelta(0), "Mon 10:30"),
        (minutes(25), "Mon 10:30"),
        (minutes(26), "Mon 11:00"),
        (timedelta(hours=6), "Mon 16:30"),
        (timedelta(hours=7), "Tue 09:00"),
        (timedelta(days=3), "Thu 10:30"),
    ],
)
def test_minimum_notice_from_now(notice, first):
    slots = agent_slots(availability(min_notice=notice), now=utc(MONDAY, 10, 5))
    assert f"{slots[0]:%a %H:%M}" == first


def test_a_slot_exactly_at_the_notice_is_offered():
    slots = agent_slots(availability(), now=utc(MONDAY, 10))
    assert slots[0] == utc(MONDAY, 10)


def test_horizon_ends_the_offer():
    rules = availability(horizon=timedelta(days=2))
    slots = agent_slots(rules, now=utc(MONDAY))
    assert {slot.date() for slot in slots} == {MONDAY, MONDAY + timedelta(days=1)}


def test_a_meeting_must_end_before_the_horizon():
    rules = availability(horizon=timedelta(days=2, hours=10, minutes=15))
    slots = agent_slots(rules, now=utc(MONDAY))
    assert slots[-1] == utc(MONDAY + timedelta(days=2), 9, 30)


def test_horizon_default_is_fourteen_days():
    slots = agent_slots(availability(), now=utc(MONDAY))
    assert len(slots) == 10 * 16
    assert slots[-1] == utc(MONDAY + timedelta(days=11), 16, 30)


def test_zero_horizon_offers_nothing():
    assert agent_slots(availability(horizon=timedelta(0)), now=utc(MONDAY)) == []


def test_start_and_end_narrow_the_window():
    slots = agent_slots(
        availability(), now=utc(MONDAY), start=utc(MONDAY, 11, 10), end=utc(MONDAY, 13)
    )
    assert clock(slots) == ["11:30", "12:00", "12:30"]


def test_start_and_end_cannot_widen_notice_or_horizon():
    rules = availability(min_notice=timedelta(hours=2), horizon=timedelta(hours=5))
    slots = agent_slots(
        rules, now=utc(MONDAY, 9), start=utc(MONDAY), end=utc(MONDAY + timedelta(days=1))
    )
    assert clock(slots) == ["11:00", "11:30", "12:00", "12:30", "13:00", "13:30"]


def test_a_window_shorter_than_a_meeting_offers_nothing():
    assert agent_slots(availability(), now=utc(MONDAY), end=utc(MONDAY, 9, 20)) == []


# --- Busy time, booked meetings and buffers --------------------------------------------------


def test_a_busy_interval_blocks_the_slots_it_overlaps():
    slots = on_day(availability(), MONDAY, busy=[(utc(MONDAY, 10), utc(MONDAY, 11))])
    assert "09:30" in clock(slots)  # ends as the busy interval starts
    assert "10:00" not in clock(slots)
    assert "10:30" not in clock(slots)
    assert "11:00" in clock(slots)  # starts as it ends


def test_a_short_busy_interval_blocks_the_whole_slot():
    slots = on_day(availability(), MONDAY, busy=[(utc(MONDAY, 10, 10), utc(MONDAY, 10, 20))])
    assert clock(slots) == half_hours("09:00", "09:30") + half_hours("10:30", "16:30")


def test_busy_intervals_unsorted_overlapping_and_touching():
    busy = [
        (utc(MONDAY, 15), utc(MONDAY, 16)),
        (utc(MONDAY, 9, 40), utc(MONDAY, 10, 10)),
        (utc(MONDAY, 14), utc(MONDAY, 15)),  # touches the 15:00 one
        (utc(MONDAY, 9, 50), utc(MONDAY, 11)),  # overlaps the 09:40 one
        (utc(MONDAY, 12), utc(MONDAY, 12)),  # empty: ignored
    ]
    slots = on_day(availability(), MONDAY, busy=busy)
    assert clock(slots) == ["09:00", *half_hours("11:00", "13:30"), "16:00", "16:30"]


def test_busy_intervals_in_other_offsets_and_spanning_days():
    busy = [
        # 10:00-11:00 UTC written in Berlin time.
        (
            datetime.datetime(2026, 3, 2, 11, tzinfo=BERLIN),
            datetime.datetime(2026, 3, 2, 12, tzinfo=BERLIN),
        ),
        # From Monday 16:00 to Wednesday 09:30: Tuesday is gone.
        (utc(MONDAY, 16), utc(MONDAY + timedelta(days=2), 9, 30)),
    ]
    slots = agent_slots(
        availability(), now=utc(MONDAY), busy=busy, end=utc(MONDAY + timedelta(days=3))
    )
    days = Counter(f"{slot:%a}" for slot in slots)
    assert days == {"Mon": 16 - 2 - 2, "Wed": 15}
    assert f"{slots[0 - 15]:%a %H:%M}" == "Wed 09:30"


def test_busy_intervals_outside_the_window_are_harmless():
    busy = [(utc(MONDAY - timedelta(days=30)), utc(MONDAY - timedelta(days=29)))]
    assert on_day(availability(), MONDAY, busy=busy) == on_day(availability(), MONDAY)


def test_booked_meetings_block_their_time():
    booked = [(utc(MONDAY, 10), utc(MONDAY, 10, 30))]
    assert "10:00" not in clock(on_day(availability(), MONDAY, booked=booked))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # After our own meeting the buffer is kept, and before it, for the offered meeting's buffer.
        ("booked", ["09:00", *half_hours("11:00", "16:30")]),
        # After a busy interval no buffer: only the offered meeting's own buffer counts.
        ("busy", ["09:00", *half_hours("10:30", "16:30")]),
    ],
)
def test_buffer_after(kind, expected):
    rules = availability(buffer_after=minutes(15))
    interval = [(utc(MONDAY, 10), utc(MONDAY, 10, 30))]
    slots = on_day(rules, MONDAY, **{kind: interval})
    assert clock(slots) == expected


def test_buffer_after_a_booked_meeting_with_a_finer_step():
    rules = availability({0: [(time(9), time(12))]}, buffer_after=minutes(15), step=minutes(15))
    slots = on_day(rules, MONDAY, booked=[(utc(MONDAY, 10), utc(MONDAY, 10, 30))])
    # 09:15 + 30 + 15 = 10:00 is the latest start before; 10:30 + 15 the earliest after.
    assert clock(slots) == ["09:00", "09:15", "10:45", "11:00", "11:15", "11:30"]


def test_buffer_after_may_run_past_the_working_hours():
    rules = availability(buffer_after=minutes(15))
    assert clock(on_day(rules, MONDAY))[-1] == "16:30"


def test_buffer_after_the_offered_meeting_respects_busy_after_hours():
    rules = availability(buffer_after=minutes(15))
    slots = on_day(rules, MONDAY, busy=[(utc(MONDAY, 17, 10), utc(MONDAY, 18))])
    assert clock(slots)[-1] == "16:00"


# --- Daily cap ------------------------------------------------------------------------------


def test_daily_cap_counts_booked_meetings_of_that_day():
    rules = availability(daily_cap=2)
    booked = [
        (utc(MONDAY, 9), utc(MONDAY, 9, 30)),
        (utc(MONDAY, 14), utc(MONDAY, 14, 30)),
        (utc(MONDAY + timedelta(days=1), 9), utc(MONDAY + timedelta(days=1), 9, 30)),
    ]
    slots = agent_slots(rules, now=utc(MONDAY), booked=booked, end=utc(MONDAY + timedelta(days=2)))
    assert {f"{slot:%a}" for slot in slots} == {"Tue"}
    assert len(slots) == 15


def test_daily_cap_counts_meetings_before_now():
    rules = availability(daily_cap=1)
    slots = agent_slots(
        rules,
        now=utc(MONDAY, 12),
        booked=[(utc(MONDAY, 9), utc(MONDAY, 9, 30))],
        end=utc(MONDAY + timedelta(days=1)),
    )
    assert slots == []


def test_daily_cap_ignores_busy_intervals():
    rules = availability(daily_cap=1)
    slots = on_day(rules, MONDAY, busy=[(utc(MONDAY, 9), utc(MONDAY, 9, 30))])
    assert len(slots) == 15


def test_daily_cap_uses_the_agents_local_day():
    # 02:00 UTC on Tuesday is 21:00 on Monday in New York: it fills Monday, not Tuesday.
    rules = availability(time_zone="America/New_York", daily_cap=1)
    tuesday_utc = utc(MONDAY + timedelta(days=1), 2)
    booked = [(tuesday_utc, tuesday_utc + minutes(30))]
    assert on_day(rules, MONDAY, booked=booked) == []
    assert len(on_day(rules, MONDAY + timedelta(days=1), booked=booked)) == 16


def test_daily_cap_zero_offers_nothing():
    assert agent_slots(availability(daily_cap=0), now=utc(MONDAY)) == []


def test_daily_cap_above_the_bookings_changes_nothing():
    booked = [(utc(MONDAY, 9), utc(MONDAY, 9, 30))]
    capped = on_day(availability(daily_cap=2), MONDAY, booked=booked)
    assert capped == on_day(availability(), MONDAY, booked=booked)
    assert len(capped) == 15


# --- Step -----------------------------------------------------------------------------------


def test_step_smaller_than_the_duration_offers_overlapping_starts():
    rules = availability({0: [(time(9), time(12))]}, duration=minutes(60), step=minutes(30))
    assert clock(on_day(rules, MONDAY)) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


def test_step_skips_over_busy_time_on_its_grid():
    rules = availability({0: [(time(9), time(12))]}, duration=minutes(60), step=minutes(30))
    slots = on_day(rules, MONDAY, busy=[(utc(MONDAY, 10), utc(MONDAY, 10, 20))])
    assert clock(slots) == ["09:00", "10:30", "11:00"]


def test_step_grid_starts_at_each_block():
    rules = availability(
        {0: [(time(9, 10), time(10, 10)), (time(11), time(12))]}, duration=minutes(20)
    )
    assert clock(on_day(rules, MONDAY)) == ["09:10", "09:30", "09:50", "11:00", "11:20", "11:40"]


def test_default_step_is_the_duration():
    rules = availability({0: [(time(9), time(12))]}, duration=minutes(45))
    assert clock(on_day(rules, MONDAY)) == ["09:00", "09:45", "10:30", "11:15"]


def test_notice_rounds_up_to_the_step_grid():
    rules = availability(step=minutes(15), min_notice=minutes(1))
    assert clock(agent_slots(rules, now=utc(MONDAY, 10, 29)))[0] == "10:30"
    assert clock(agent_slots(rules, now=utc(MONDAY, 10, 30)))[0] == "10:45"


# --- Naive datetimes ------------------------------------------------------------------------


NAIVE = datetime.datetime(2026, 3, 2, 10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"now": NAIVE},
        {"now": utc(MONDAY), "start": NAIVE},
        {"now": utc(MONDAY), "end": NAIVE},
        {"now": utc(MONDAY), "busy": [(NAIVE, NAIVE + minutes(30))]},
        {"now": utc(MONDAY), "busy": [(utc(MONDAY, 10), NAIVE + minutes(30))]},
        {"now": utc(MONDAY), "booked": [(NAIVE, NAIVE + minutes(30))]},
    ],
)
def test_naive_datetimes_are_refused(kwargs):
    with pytest.raises(ValueError, match="aware"):
        agent_slots(availability(), **kwargs)


def test_naive_datetimes_are_refused_by_the_queue_and_grouping():
    with pytest.raises(ValueError, match="aware"):
        queue_slots({"a": (availability(), [], [])}, now=NAIVE)
    with pytest.raises(ValueError, match="aware"):
        group_by_day([NAIVE], "UTC")


# --- Queues and the visitor's days ----------------------------------------------------------


def test_queue_lists_the_free_agents_per_start_in_the_given_order():
    busy_ten = [(utc(MONDAY, 10), utc(MONDAY, 10, 30))]
    agents = {
        "bea": (availability(), busy_ten, []),
        "al": (availability({0: [(time(10), time(11))]}), [], []),
        "cy": (availability({}), [], []),
    }
    offer = queue_slots(agents, now=utc(MONDAY), end=utc(MONDAY, 11))
    assert offer == {
        utc(MONDAY, 9): ["bea"],
        utc(MONDAY, 9, 30): ["bea"],
        utc(MONDAY, 10): ["al"],
        utc(MONDAY, 10, 30): ["bea", "al"],
    }
    assert list(offer) == sorted(offer)


def test_queue_keeps_the_mapping_order_not_the_names():
    agents = {name: (availability(), [], []) for name in ("zed", "amy", "mo")}
    offer = queue_slots(agents, now=utc(MONDAY))
    assert set(map(tuple, offer.values())) == {("zed", "amy", "mo")}


def test_queue_agrees_with_each_agent():
    rng = random.Random(3)
    agents = {}
    for n, zone in enumerate(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"]):
        busy = []
        for _ in range(30):
            begin = utc(MONDAY) + minutes(rng.randrange(0, 14 * 24 * 4) * 15)
            busy.append((begin, begin + minutes(rng.choice((15, 30, 60)))))
        agents[n] = (availability(time_zone=zone, buffer_after=minutes(10)), busy, [])
    offer = queue_slots(agents, now=utc(MONDAY))
    for n, (rules, busy, booked) in agents.items():
        mine = [start for start, names in offer.items() if n in names]
        assert mine == agent_slots(rules, now=utc(MONDAY), busy=busy, booked=booked)


def test_queue_of_nobody_is_empty():
    assert queue_slots({}, now=utc(MONDAY)) == {}


def test_kolkata_agent_grouped_by_a_los_angeles_visitors_days():
    # 09:00-17:00 in Kolkata (+05:30) is 19:30 the day before to 03:30 in Los Angeles (-08:00).
    rules = availability({0: NINE_TO_FIVE}, time_zone="Asia/Kolkata")
    offer = queue_slots({"priya": (rules, [], [])}, now=utc(MONDAY - timedelta(days=3)))
    days = group_by_day(offer, "America/Los_Angeles")
    sunday, monday = MONDAY - timedelta(days=1), MONDAY
    assert list(days) == [sunday, monday, sunday + timedelta(days=7), monday + timedelta(days=7)]
    assert clock(days[sunday], LOS_ANGELES) == half_hours("19:30", "23:30")
    assert clock(days[monday], LOS_ANGELES) == half_hours("00:00", "03:00")
    assert all(slot.tzinfo == LOS_ANGELES for slot in days[sunday])


def test_grouping_across_the_visitors_dst_change():
    # Los Angeles falls back on 1 November 2026: the same UTC hour is 09:00 then 08:00.
    starts = [utc(datetime.date(2026, 10, 31), 16), utc(datetime.date(2026, 11, 2), 16)]
    days = group_by_day(starts, LOS_ANGELES)
    assert [f"{day}" for day in days] == ["2026-10-31", "2026-11-02"]
    assert [clock(slots, LOS_ANGELES) for slots in days.values()] == [["09:00"], ["08:00"]]


def test_grouping_keeps_the_instants_and_sorts():
    starts = [utc(MONDAY, 15), utc(MONDAY, 9), utc(MONDAY - timedelta(days=1), 23)]
    days = group_by_day(starts, "Europe/Berlin")
    flat = [slot for slots in days.values() for slot in slots]
    assert flat == sorted(starts)
    assert set(flat) == set(starts)  # equal and hashing alike across zones
    # 23:00 UTC on Sunday is midnight on Monday in Berlin.
    assert list(days) == [MONDAY]
    assert clock(days[MONDAY], BERLIN) == ["00:00", "10:00", "16:00"]


def test_grouping_nothing_and_unknown_zones():
    assert group_by_day([], "UTC") == {}
    with pytest.raises(ValueError, match="time zone"):
        group_by_day([utc(MONDAY)], "Nowhere/Special")


# --- Against a brute-force reference ---------------------------------------------------------


def reference_wall(day, moment, zone):
    """The first instant (15-minute UTC grid) at which the clock shows day+moment or later."""
    target = datetime.datetime.combine(day, moment)
    instant = target.replace(tzinfo=UTC) - timedelta(hours=15)
    while instant.astimezone(zone).replace(tzinfo=None) < target:
        instant += minutes(15)
    return instant


def reference_slots(rules, now, busy, booked):
    """The rules of the module docstring, transcribed literally: every candidate, every interval."""
    zone = ZoneInfo(rules.time_zone)
    duration, buffer = rules.duration, rules.buffer_after
    step = rules.step or duration
    earliest, latest = now + rules.min_notice, now + rules.horizon
    per_day = Counter(begin.astimezone(zone).date() for begin, _ in booked)
    day = earliest.astimezone(zone).date() - timedelta(days=2)
    result = []
    while day <= latest.astimezone(zone).date() + timedelta(days=2):
        if rules.daily_cap is None or per_day[day] < rules.daily_cap:
            for begin, end in rules.weekly.get(day.weekday(), ()):
                start = reference_wall(day, begin, zone)
                if end == time(0):
                    finish = reference_wall(day + timedelta(days=1), end, zone)
                else:
                    finish = reference_wall(day, end, zone)
                slot = start
                while slot + duration <= finish:
                    fits = earliest <= slot and slot + duration <= latest
                    free = not any(
                        slot < b and slot + duration + buffer > a for a, b in busy if b > a
                    ) and not any(
                        slot < b + buffer and slot + duration + buffer > a for a, b in booked
                    )
                    if fits and free:
                        result.append(slot)
                    slot += step
        day += timedelta(days=1)
    return sorted(result)


def random_week(rng):
    week = {}
    for day in range(7):
        points = sorted(rng.sample(range(97), 2 * rng.randrange(0, 4)))
        blocks = []
        for begin, end in zip(points[::2], points[1::2], strict=True):
            blocks.append((time(begin // 4, begin % 4 * 15), time(end // 4 % 24, end % 4 * 15)))
        week[day] = blocks
    return week


CHANGES = [
    ("Europe/Berlin", datetime.datetime(2026, 3, 29, 1, tzinfo=UTC)),
    ("Europe/Berlin", datetime.datetime(2026, 10, 25, 1, tzinfo=UTC)),
    ("America/New_York", datetime.datetime(2026, 3, 8, 7, tzinfo=UTC)),
    ("America/New_York", datetime.datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ("Asia/Kolkata", datetime.datetime(2026, 6, 1, tzinfo=UTC)),
    # Half-hour DST shifts, and changes at midnight.
    ("Australia/Lord_Howe", datetime.datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
    ("America/Santiago", datetime.datetime(2026, 4, 5, 3, tzinfo=UTC)),
    ("America/Santiago", datetime.datetime(2026, 9, 6, 4, tzinfo=UTC)),
]


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_the_brute_force_reference(seed):
    rng = random.Random(seed)
    zone_name, change = CHANGES[seed % len(CHANGES)]
    zone = ZoneInfo(zone_name)
    rules = Availability(
        zone_name,
        random_week(rng),
        duration=minutes(rng.choice((15, 30, 45, 60, 90))),
        buffer_after=minutes(rng.choice((0, 0, 5, 10, 15, 30))),
        min_notice=rng.choice((timedelta(0), timedelta(hours=1), timedelta(hours=24))),
        horizon=timedelta(days=rng.randrange(2, 15), minutes=rng.randrange(0, 1440)),
        daily_cap=rng.choice((None, None, 0, 1, 2, 4)),
        step=rng.choice((None, minutes(10), minutes(15), minutes(20))),
    )
    now = change - timedelta(minutes=rng.randrange(0, 6 * 1440))
    busy, booked = [], []
    for intervals, count, lengths in ((busy, 60, (5, 20, 30, 60, 240)), (booked, 8, (30, 45))):
        for _ in range(rng.randrange(0, count)):
            begin = now + minutes(5 * rng.randrange(-288, 16 * 288))
            if rng.random() < 0.5:
                begin = begin.astimezone(zone)
            intervals.append((begin, begin + minutes(rng.choice(lengths))))
    expected = reference_slots(rules, now, busy, booked)
    assert agent_slots(rules, now=now, busy=busy, booked=booked) == expected

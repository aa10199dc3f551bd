"""The meeting card in the pure engine: it awaits a time, and records what booking did."""

import pytest

from tests.engine import branch, flow, meeting, message
from wagtail_dynchat import engine
from wagtail_dynchat.engine import Event, answer, start

BOOKED = {
    "booked": {
        "meeting": "m1",
        "agent": "Ada Lovelace",
        "agent_email": "ada@acme.example",
        "starts_at": "2026-12-01T09:00:00+00:00",
        "when": "1 December 2026 at 10:00 (Europe/Berlin)",
        "email": "bob@customer.example",
    }
}


def booking_flow(**card):
    return flow(branch("start", meeting("m", **card), message("after", "<p>Bye</p>")))


def test_a_meeting_card_awaits_a_time_and_asks_for_the_email_when_unknown():
    result = start(booking_flow(), {})
    assert result.awaiting == {"card": "m", "kind": "meeting"}
    assert result.items == [
        {"kind": "meeting", "card": "m", "html": "<p>Pick a time</p>", "email": True}
    ]
    known = start(booking_flow(), {"email": "bob@customer.example"})
    assert known.items[0]["email"] is False


def test_a_booked_time_is_confirmed_and_the_agent_stored():
    f = booking_flow(field="owner", agent_value="email")
    state = start(f, {}).state
    result = answer(f, state, "m", BOOKED, {})
    assert [item["kind"] for item in result.items] == ["answer", "message", "message", "end"]
    assert result.items[0]["text"] == "1 December 2026 at 10:00 (Europe/Berlin)"
    assert "Ada Lovelace" in result.items[1]["html"]
    assert result.person_updates == {"email": "bob@customer.example", "owner": "ada@acme.example"}
    assert (
        Event(
            "meeting",
            "m",
            {"meeting": "m1", "agent": "Ada Lovelace", "starts_at": "2026-12-01T09:00:00+00:00"},
        )
        in result.events
    )
    assert result.state["step"] == 1


def test_a_taken_time_asks_again():
    f = booking_flow()
    state = start(f, {}).state
    result = answer(f, state, "m", {"taken": True}, {})
    assert result.awaiting == {"card": "m", "kind": "meeting"}
    assert result.items[0]["kind"] == "retry"
    assert result.events == [Event("rejected", "m", {"reason": "slot_taken"})]


def test_nobody_available_shows_the_fallback_and_goes_on():
    f = booking_flow(fallback="We'll write to you <soon>.")
    state = start(f, {}).state
    result = answer(f, state, "m", {"unavailable": True}, {})
    assert result.items[0] == {
        "kind": "message",
        "card": "m",
        "html": "<p>We&#x27;ll write to you &lt;soon&gt;.</p>",
    }
    assert result.items[1]["html"] == "<p>Bye</p>"
    assert result.status == "completed"


@pytest.mark.parametrize("value", [None, 3, "2026-12-01T09:00", {"start": "x"}])
def test_a_visitors_raw_value_is_not_an_outcome(value):
    f = booking_flow()
    state = start(f, {}).state
    with pytest.raises(engine.InvalidAnswer):
        answer(f, state, "m", value, {})

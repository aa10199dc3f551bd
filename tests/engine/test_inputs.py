"""Capture validation and normalisation, each input type with good and bad values."""

import pytest

from tests.engine import capture
from wagtail_dynchat.engine.inputs import Accepted, Rejected, check_capture, text_max_length

EMAIL_RETRY = "That doesn't look like an e-mail address. Could you check it?"
PHONE_RETRY = "That doesn't look like a phone number. Could you check it?"
NUMBER_RETRY = "Please enter a number, like 42 or 3.5."
DATE_RETRY = "That doesn't look like a date. Could you enter it as YYYY-MM-DD?"
PICK_RETRY = "Please choose one of the options."
REQUIRED_RETRY = "We need an answer to this one to continue."


@pytest.mark.parametrize(
    ("raw", "value", "text"),
    [
        ("ann@example.com", "ann@example.com", "ann@example.com"),
        ("  Ann.Lee@EXAMPLE.Com ", "Ann.Lee@example.com", "Ann.Lee@EXAMPLE.Com"),
        ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
    ],
)
def test_email_valid(raw, value, text):
    assert check_capture(capture("c", "email"), raw) == Accepted(value, text)


@pytest.mark.parametrize(
    "raw", ["ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@@x.com"]
)
def test_email_invalid(raw):
    assert check_capture(capture("c", "email"), raw) == Rejected("invalid", EMAIL_RETRY)


def test_email_too_long_is_invalid_without_parsing():
    raw = "a" * 250 + "@example.com"
    assert check_capture(capture("c", "email"), raw) == Rejected("invalid", EMAIL_RETRY)


@pytest.mark.parametrize("raw", ["ann@gmail.com", "ann@GMAIL.com", "ann@mail.gmail.com"])
def test_email_blocked_domains_and_their_subdomains(raw):
    outcome = check_capture(capture("c", "email"), raw, blocked_email_domains=["@Gmail.com "])
    assert outcome == Rejected("blocked_domain", "Please use your work e-mail address.")


def test_blocked_email_message_of_the_site_wins_for_blocked_domains_only():
    card = {**capture("c", "email"), "retry": "Check the address, please."}
    options = {"blocked_email_domains": ["gmail.com"], "blocked_email_message": "No free mail."}
    assert check_capture(card, "ann@gmail.com", **options) == Rejected(
        "blocked_domain", "No free mail."
    )
    assert check_capture(card, "ann@", **options) == Rejected(
        "invalid", "Check the address, please."
    )
    # Without a site message the card's own retry text still applies.
    assert check_capture(card, "ann@gmail.com", blocked_email_domains=["gmail.com"]) == Rejected(
        "blocked_domain", "Check the address, please."
    )


def test_email_blocked_domain_is_not_a_suffix_match():
    outcome = check_capture(
        capture("c", "email"), "ann@notgmail.com", blocked_email_domains=["gmail.com"]
    )
    assert outcome == Accepted("ann@notgmail.com", "ann@notgmail.com")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("(555) 123-4567", "(555)123-4567"),
        ("555.123.4567", "555.123.4567"),
        ("123456", "123456"),
        ("+" + "1" * 20, "+" + "1" * 20),
    ],
)
def test_phone_valid(raw, value):
    assert check_capture(capture("c", "phone"), raw) == Accepted(value, raw)


@pytest.mark.parametrize(
    "raw", ["12345", "1" * 21, "call me", "555-CALL-NOW", "12+3456789", "++33612345678", "٦١٢٣٤٥٦٧"]
)
def test_phone_invalid(raw):
    assert check_capture(capture("c", "phone"), raw) == Rejected("invalid", PHONE_RETRY)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("42", 42), ("-7", -7), ("+3", 3), ("3.50", 3.5), ("2.0", 2), (".5", 0.5), ("0", 0)],
)
def test_number_valid(raw, value):
    outcome = check_capture(capture("c", "number"), raw)
    assert outcome == Accepted(value, raw)
    assert type(outcome.value) is type(value)


@pytest.mark.parametrize("raw", ["1,5", "ten", "1e3", "nan", "inf", "1_000", "1.2.3", "-", "٤٢"])
def test_number_invalid(raw):
    assert check_capture(capture("c", "number"), raw) == Rejected("invalid", NUMBER_RETRY)


@pytest.mark.parametrize(
    ("low", "high", "raw", "message"),
    [
        (1, 10, "0", "Please enter a number between 1 and 10."),
        (1, 10, "10.5", "Please enter a number between 1 and 10."),
        (1.5, None, "1", "Please enter a number of at least 1.5."),
        (None, 3, "4", "Please enter a number of at most 3."),
    ],
)
def test_number_out_of_range(low, high, raw, message):
    card = capture("c", "number", min=low, max=high)
    assert check_capture(card, raw) == Rejected("out_of_range", message)


@pytest.mark.parametrize("raw", ["1", "10", "5.5"])
def test_number_bounds_are_inclusive(raw):
    assert isinstance(check_capture(capture("c", "number", min=1, max=10), raw), Accepted)


@pytest.mark.parametrize("raw", ["2025-01-31", "2024-02-29", " 2025-12-01 "])
def test_date_valid(raw):
    assert check_capture(capture("c", "date"), raw) == Accepted(raw.strip(), raw.strip())


@pytest.mark.parametrize(
    "raw", ["2025-02-30", "2023-02-29", "31/01/2025", "20250131", "2025-1-31", "2025-W05-1"]
)
def test_date_invalid(raw):
    assert check_capture(capture("c", "date"), raw) == Rejected("invalid", DATE_RETRY)


def test_text_is_stripped_and_bounded():
    card = capture("c", "text", min=3, max=5)
    assert check_capture(card, "  abcd  ") == Accepted("abcd", "abcd")
    assert check_capture(card, "ab") == Rejected(
        "too_short", "Could you tell us a little more? At least 3 characters, please."
    )
    assert check_capture(card, "abcdef") == Rejected(
        "too_long", "That's a bit long. Could you keep it under 5 characters?"
    )


def test_text_default_max_is_500():
    card = capture("c", "text")
    assert check_capture(card, "x" * 500) == Accepted("x" * 500, "x" * 500)
    assert check_capture(card, "x" * 501) == Rejected(
        "too_long", "That's a bit long. Could you keep it under 500 characters?"
    )


def test_text_max_never_exceeds_the_site_limit():
    assert text_max_length(capture("c", max=2000)) == 500
    assert text_max_length(capture("c", max=2000), 1000) == 1000
    assert text_max_length(capture("c", max=20), 1000) == 20
    assert check_capture(capture("c", "text"), "x" * 11, max_text_length=10).reason == "too_long"


def test_unstorable_characters_are_dropped():
    assert check_capture(capture("c", "text"), "a\x00b\ud800c\nd") == Accepted("abc\nd", "abc\nd")


def test_unknown_input_type_is_free_text():
    assert check_capture(capture("c", "colour"), " red ") == Accepted("red", "red")


OPTIONS = [{"value": "s", "label": "Small"}, {"value": "", "label": "Large"}]


@pytest.mark.parametrize(
    ("raw", "value", "text"), [("s", "s", "Small"), ("Large", "Large", "Large")]
)
def test_picklist_valid(raw, value, text):
    card = capture("c", "picklist", options=OPTIONS)
    assert check_capture(card, raw) == Accepted(value, text)


@pytest.mark.parametrize("raw", ["Small", "m", "S"])
def test_picklist_value_not_offered(raw):
    card = capture("c", "picklist", options=OPTIONS)
    assert check_capture(card, raw) == Rejected("not_offered", PICK_RETRY)


@pytest.mark.parametrize("kind", ["email", "phone", "text", "number", "date", "picklist"])
@pytest.mark.parametrize("raw", [None, "", "   "])
def test_blank_skips_optional_and_is_refused_when_required(kind, raw):
    assert check_capture(capture("c", kind), raw) == Accepted(None, "Skipped")
    assert check_capture(capture("c", kind, required=True), raw) == Rejected(
        "required", REQUIRED_RETRY
    )


def test_editor_retry_message_wins_for_every_reason():
    card = capture("c", "email", required=True, retry="Your work e-mail, please.")
    assert check_capture(card, "nope") == Rejected("invalid", "Your work e-mail, please.")
    assert check_capture(card, "") == Rejected("required", "Your work e-mail, please.")


def test_blank_retry_message_falls_back_to_default():
    card = capture("c", "email", retry="   ")
    assert check_capture(card, "nope") == Rejected("invalid", EMAIL_RETRY)

"""Audiences end to end, through the visitor API: who is offered a dialogue (bootstrap), who may
start it (start checks the same rules), and Condition cards branching on what the conversation
learnt and on the facts of the visit it started in."""

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from wagtail_dynchat.models import Conversation, Person, Visitor
from wagtail_dynchat.snippets.blueprints import jump

from .conftest import branch, capture, message, question
from .test_api_errors import assert_error
from .test_scenarios import NOTHING, Browser, audience, condition, engage, finish, make, rule

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
IPAD = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5"
ANDROID_PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"

ROLE_FLOW = [
    branch(
        "start",
        "Start",
        question(
            "<p>What is your role?</p>",
            [("Engineering", "engineering", "end"), ("Marketing", "marketing", "end")],
            store_in="job_title",
        ),
    ),
    branch("end", "End", message("<p>Thanks!</p>")),
]


def check(dialogue, page, browser, shown, **kwargs):
    """Bootstrap offers ``dialogue`` (or nothing), and start agrees (201 or 404)."""
    expected = (dialogue.pk, None) if shown else (None, None)
    assert browser.offered(page, **kwargs) == expected
    start_kwargs = {key: value for key, value in kwargs.items() if key in ("url", "ref")}
    response = browser.open(dialogue, page, **start_kwargs)
    assert response.status_code == (201 if shown else 404), response.content


# -- person facts ------------------------------------------------------------------------------


def test_known_and_anonymous_visitors(pages):
    """ "Person e-mail is empty" is the anonymous visitor, with or without a cookie; once the
    visitor gives an address in any chat, the dialogue for known visitors shows instead."""
    pricing = pages["pricing"]
    anonymous = make(
        name="Anonymous",
        priority=90,
        targets=[(pricing, "page")],
        audience=audience([rule("person.email", "is_empty")]),
    )
    known = make(
        name="Known",
        priority=50,
        targets=[(pricing, "page")],
        audience=audience([rule("visitor.known", "is", "yes")]),
    )
    sign_up = make(name="Sign up", targets=[(pages["contact"], "page")], repeat=True)

    visitor = Browser()
    assert visitor.offered(pricing) == (anonymous.pk, None)
    finish(visitor, sign_up, pages["contact"])  # "No": a cookie, still anonymous
    assert visitor.offered(pricing) == (anonymous.pk, None)
    assert_error(visitor.open(known, pricing), 404, "not_found")

    engaged = engage(visitor, sign_up, pages["contact"])
    assert visitor.reply(engaged, "Ada@Example.com")["status"] == "completed"
    assert visitor.offered(pricing) == (known.pk, None)
    assert_error(visitor.open(anonymous, pricing), 404, "not_found")
    assert visitor.open(known, pricing).status_code == 201

    # Another browser of the same person becomes known when it gives the address.
    laptop = Browser()
    assert laptop.offered(pricing) == (anonymous.pk, None)
    engaged = engage(laptop, sign_up, pages["contact"])
    assert laptop.reply(engaged, "ada@example.com")["status"] == "completed"
    assert laptop.offered(pricing) == (known.pk, None)
    assert Person.objects.filter(email="ada@example.com").count() == 1


def test_a_person_field_captured_in_chat_decides_the_next_dialogue(pages):
    """The role a visitor picks in one dialogue chooses which dialogue shows next."""
    pricing = pages["pricing"]
    ask = make(ROLE_FLOW, name="Ask", priority=90, targets=[(pricing, "page")])
    for_engineers = make(
        name="Engineers",
        targets=[(pricing, "page")],
        audience=audience([rule("person.job_title", "is", "Engineering")]),
    )
    for_marketers = make(
        name="Marketers",
        targets=[(pricing, "page")],
        audience=audience([rule("person.job_title", "in_list", "marketing, sales")]),
    )
    engineer, marketer = Browser(), Browser()
    for browser, choice in ((engineer, 0), (marketer, 1)):
        assert browser.offered(pricing) == (ask.pk, None)
        conversation = browser.started(ask, pricing)
        assert browser.reply(conversation, choice)["status"] == "completed"
    assert engineer.offered(pricing) == (for_engineers.pk, None)
    assert marketer.offered(pricing) == (for_marketers.pk, None)
    assert_error(engineer.open(for_marketers, pricing), 404, "not_found")
    assert_error(marketer.open(for_engineers, pricing), 404, "not_found")
    assert set(Person.objects.values_list("job_title", flat=True)) == {
        "engineering",
        "marketing",
    }


# -- visitor facts from the request ------------------------------------------------------------


@pytest.mark.parametrize(
    "ref, shown",
    [
        ("https://www.google.com/search?q=analytics", True),
        ("https://WWW.GOOGLE.COM/", True),
        ("https://www.linkedin.com/feed/", True),
        ("https://google.com/", False),
        ("https://www.google.com.evil.test/", False),
        ("", False),
        (None, False),
        ("not a url", False),
        ("http://[::1", False),
        ("android-app://com.google.android.gm/", False),
    ],
)
def test_referrer(pages, ref, shown):
    dialogue = make(
        name="From search",
        targets=[(pages["pricing"], "page")],
        audience=audience(
            [rule("visitor.referrer_host", "is", "www.google.com")],
            [rule("visitor.referrer", "contains", "linkedin.com")],
        ),
    )
    check(dialogue, pages["pricing"], Browser(), shown, ref=ref)


def test_the_referrer_of_the_start_is_kept_for_the_conversation(pages):
    dialogue = make(name="Any", targets=[(pages["pricing"], "page")])
    conversation = Browser().started(
        dialogue,
        pages["pricing"],
        ref="https://www.google.com/search?q=x",
        url="http://testserver/pricing/?utm_source=ads",
    )
    context = Conversation.objects.get(public_id=conversation["id"]).context
    assert context["visitor.referrer"] == "https://www.google.com/search?q=x"
    assert context["visitor.referrer_host"] == "www.google.com"
    assert context["visitor.utm_source"] == "ads"
    assert context["visitor.path"] == "/pricing/"


@pytest.mark.parametrize(
    "user_agent, shown",
    [(IPHONE, True), (ANDROID_PHONE, True), (IPAD, False), (DESKTOP, False), (None, False)],
    ids=["iphone", "android-phone", "ipad", "desktop", "none"],
)
def test_device_from_the_user_agent(pages, user_agent, shown):
    dialogue = make(
        name="Mobile",
        targets=[(pages["pricing"], "page")],
        audience=audience([rule("visitor.device", "is", "mobile")]),
    )
    check(dialogue, pages["pricing"], Browser(user_agent=user_agent), shown)


@pytest.mark.parametrize(
    "header, shown",
    [
        ("de-CH,de;q=0.9,en;q=0.8", True),
        ("fr", True),
        ("en-US,en;q=0.9,de;q=0.8", False),
        ("en;q=0.5,de;q=0.8", True),
        ("*", False),
        ("de;q=abc,en", False),
        (None, False),
    ],
)
def test_browser_language_from_accept_language(pages, header, shown):
    dialogue = make(
        name="German or French",
        targets=[(pages["pricing"], "page")],
        audience=audience([rule("visitor.language", "in_list", "de, fr")]),
    )
    check(dialogue, pages["pricing"], Browser(language=header), shown)


def test_new_and_returning_visitors_and_visit_count(pages):
    """A browser without a cookie is new (first visit); a later visit is returning from its first
    bootstrap on, before any start records the visit; the third visit has a count of 3. Bootstrap
    and start always agree."""
    pricing = pages["pricing"]
    newcomers = make(
        name="Newcomers",
        priority=10,
        targets=[(pricing, "page")],
        audience=audience(
            [rule("visitor.returning", "is", "no"), rule("visitor.visits", "is", "1")]
        ),
    )
    regulars = make(
        name="Regulars",
        priority=50,
        targets=[(pricing, "page")],
        audience=audience([rule("visitor.returning", "is", "yes")]),
    )
    loyal = make(
        name="Loyal",
        priority=90,
        targets=[(pricing, "page")],
        audience=audience([rule("visitor.visits", "gt", "2")]),
    )
    visitor = Browser()
    assert visitor.offered(pricing) == (newcomers.pk, None)
    first = visitor.started(newcomers, pricing)
    assert visitor.offered(pricing) == (newcomers.pk, first["id"])
    assert_error(visitor.open(regulars, pricing), 404, "not_found")

    visitor.new_visit()
    assert visitor.offered(pricing) == (regulars.pk, None)
    assert Visitor.objects.get().visits == 1  # bootstrap records nothing
    assert visitor.open(regulars, pricing).status_code == 201
    assert Visitor.objects.get().visits == 2
    again = Conversation.objects.get(dialogue=regulars).public_id
    assert visitor.offered(pricing) == (regulars.pk, again)

    visitor.new_visit()
    assert visitor.offered(pricing) == (loyal.pk, None)
    assert visitor.open(loyal, pricing).status_code == 201
    assert Visitor.objects.get().visits == 3


def test_a_new_visit_is_not_offered_a_dialogue_for_newcomers(pages):
    """The reverse mistake: a returning visitor's first bootstrap of a visit must not offer a
    "new visitors only" dialogue that start would then refuse."""
    pricing = pages["pricing"]
    elsewhere = make(name="Elsewhere", targets=[(pages["contact"], "page")])
    newcomers = make(
        name="Newcomers",
        targets=[(pricing, "page")],
        audience=audience([rule("visitor.returning", "is", "no")]),
    )
    visitor = Browser()
    visitor.started(elsewhere, pages["contact"])
    visitor.new_visit()
    assert visitor.look(pricing) == NOTHING
    assert_error(visitor.open(newcomers, pricing), 404, "not_found")


MONDAY_MORNING_UTC = datetime.datetime(2025, 6, 2, 8, 30, tzinfo=datetime.UTC)  # 10:30 Berlin
MONDAY_AFTERNOON_UTC = datetime.datetime(2025, 6, 2, 11, 0, tzinfo=datetime.UTC)  # 13:00 Berlin
SUNDAY_NIGHT_UTC = datetime.datetime(2025, 6, 1, 22, 30, tzinfo=datetime.UTC)  # Mon 00:30 Berlin
TUESDAY_UTC = datetime.datetime(2025, 6, 3, 9, 0, tzinfo=datetime.UTC)  # Tue 11:00 Berlin


@pytest.mark.parametrize(
    "now, zone, shown",
    [
        (MONDAY_MORNING_UTC, "Europe/Berlin", True),
        (MONDAY_AFTERNOON_UTC, "Europe/Berlin", False),
        (SUNDAY_NIGHT_UTC, "Europe/Berlin", True),
        (SUNDAY_NIGHT_UTC, None, False),  # settings.TIME_ZONE is UTC: still Sunday
        (TUESDAY_UTC, "Europe/Berlin", False),
        (MONDAY_AFTERNOON_UTC, "America/New_York", True),  # 07:00 in New York
        (MONDAY_MORNING_UTC, "Not/AZone", True),  # a typo reads as UTC (08:30), never a 500
    ],
)
def test_local_weekday_and_hour(pages, monkeypatch, now, zone, shown):
    """ "Monday morning" in the site's time zone (WAGTAIL_DYNCHAT["TIME_ZONE"], else
    settings.TIME_ZONE); a time zone name that does not exist is read as UTC."""
    dialogue = make(
        name="Monday mornings",
        targets=[(pages["pricing"], "page")],
        audience=audience(
            [rule("visitor.weekday", "is", "monday"), rule("visitor.hour", "lt", "12")]
        ),
    )
    monkeypatch.setattr(timezone, "now", lambda: now)
    with override_settings(WAGTAIL_DYNCHAT={"TIME_ZONE": zone}):
        check(dialogue, pages["pricing"], Browser(), shown)


# -- condition cards ---------------------------------------------------------------------------

ROUTED_FLOW = [
    branch(
        "start",
        "Start",
        question(
            "<p>What is your role?</p>",
            [("Engineering", "engineering", "route"), ("Marketing", "marketing", "route")],
            store_in="job_title",
        ),
    ),
    branch(
        "route",
        "Route",
        condition([rule("person.job_title", "is", "engineering")], "engineers", "others"),
    ),
    branch("engineers", "Engineers", message("<p>Here are the API docs.</p>")),
    branch("others", "Others", message("<p>Here is a case study.</p>")),
]


@pytest.mark.parametrize(
    "choice, html", [(0, "<p>Here are the API docs.</p>"), (1, "<p>Here is a case study.</p>")]
)
def test_condition_on_a_person_field_captured_earlier_in_the_conversation(pages, choice, html):
    dialogue = make(ROUTED_FLOW, name="Routed", targets=[(pages["pricing"], "page")])
    visitor = Browser()
    conversation = visitor.started(dialogue, pages["pricing"])
    response = visitor.answer(conversation, choice).json()
    assert [item["kind"] for item in response["items"]] == ["answer", "message", "end"]
    assert response["items"][1]["html"] == html
    assert response["conversation"]["status"] == "completed"


CAMPAIGN_FLOW = [
    branch(
        "start",
        "Start",
        condition([rule("visitor.utm_medium", "is", "email")], "by_mail"),
        message("<p>Hello!</p>"),
        question("<p>Shall we talk?</p>", [("Yes", "yes", "route")]),
    ),
    branch("by_mail", "By mail", message("<p>Thanks for reading our mail.</p>"), jump("start2")),
    branch("start2", "Ask", question("<p>Shall we talk?</p>", [("Yes", "yes", "route")])),
    branch(
        "route",
        "Route",
        condition([rule("visitor.utm_source", "is", "newsletter")], "subscriber", "stranger"),
    ),
    branch("subscriber", "Subscriber", message("<p>Welcome back, reader!</p>")),
    branch("stranger", "Stranger", message("<p>Nice to meet you.</p>")),
]


@pytest.mark.parametrize(
    "query, first, last",
    [
        (
            "?utm_source=newsletter&utm_medium=email",
            "<p>Thanks for reading our mail.</p>",
            "<p>Welcome back, reader!</p>",
        ),
        ("?utm_source=Newsletter", "<p>Hello!</p>", "<p>Welcome back, reader!</p>"),
        ("?utm_medium=email", "<p>Thanks for reading our mail.</p>", "<p>Nice to meet you.</p>"),
        ("", "<p>Hello!</p>", "<p>Nice to meet you.</p>"),
    ],
)
def test_condition_on_utm_facts_of_the_visit_the_conversation_started_in(pages, query, first, last):
    """Conditions read the UTM parameters of the start's address: at the start, and later in
    answers (which carry no address), even after the visitor moved on to another page."""
    dialogue = make(CAMPAIGN_FLOW, name="Campaign", targets=[(pages["pricing"], "page")])
    visitor = Browser()
    conversation = visitor.started(
        dialogue, pages["pricing"], url=f"http://testserver/pricing/{query}"
    )
    assert conversation["items"][0]["html"] == first
    # The visitor goes on to a page without UTM parameters before answering.
    assert visitor.look(pages["contact"], url="http://testserver/contact/")["conversation"] is None
    response = visitor.answer(conversation, 0).json()
    assert response["items"][-2]["html"] == last
    assert response["conversation"]["status"] == "completed"


# -- audiences of opened dialogues -------------------------------------------------------------


def test_opened_dialogues_respect_their_audience(pages):
    """A dialogue opened by a link or an embed skips page targeting, not its audience."""
    dialogue = make(
        name="Mobile only",
        slug="mobile-only",
        triggers=[],
        audience=audience([rule("visitor.device", "is", "mobile")]),
    )
    phone, desktop = Browser(user_agent=IPHONE), Browser(user_agent=DESKTOP)
    assert phone.offered(pages["contact"], dialogue="mobile-only") == (dialogue.pk, None)
    assert desktop.look(pages["contact"], dialogue="mobile-only") == NOTHING
    for mode in ("popup", "inline"):
        assert_error(desktop.open(dialogue, pages["contact"], mode=mode), 404, "not_found")
    assert phone.open(dialogue, pages["contact"], mode="popup").status_code == 201


def test_an_engaged_conversation_continues_when_the_audience_no_longer_matches(pages):
    """Answering can change who the visitor is; their conversation goes on regardless."""
    flow = [
        branch(
            "start",
            "Start",
            capture("email", "<p>Your e-mail?</p>", "email"),
            question("<p>Anything else?</p>", [("No", "no", "end")]),
        ),
        branch("end", "End", message("<p>Bye.</p>")),
    ]
    dialogue = make(
        flow,
        name="Anonymous only",
        targets=[(pages["pricing"], "page")],
        audience=audience([rule("person.email", "is_empty")]),
    )
    visitor = Browser()
    conversation = visitor.started(dialogue, pages["pricing"])
    conversation = visitor.reply(conversation, "ada@example.com")
    assert conversation["awaiting"]["kind"] == "question"
    assert visitor.look(pages["pricing"])["conversation"] == conversation
    assert visitor.open(dialogue, pages["pricing"]).status_code == 200
    assert visitor.reply(conversation, 0)["status"] == "completed"
    assert visitor.look(pages["pricing"]) == NOTHING

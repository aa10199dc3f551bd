"""visitor_facts(): URL and UTM facts, referrer, device, language, visits and local time."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from wagtail_dynchat.visitor_facts import device_type, primary_language, visitor_facts

# A Wednesday, 23:30 UTC: already Thursday in Berlin (UTC+1 in January).
NOW = datetime.datetime(2025, 1, 15, 23, 30, tzinfo=datetime.UTC)


def facts(**overrides):
    arguments = {
        "url": "",
        "referrer": "",
        "user_agent": "",
        "accept_language": "",
        "visits": None,
        "now": NOW,
        "time_zone": "UTC",
    }
    arguments.update(overrides)
    return visitor_facts(**arguments)


def test_a_full_request():
    assert facts(
        url="https://example.com/pricing/?utm_source=Google&utm_medium=cpc&ref=ad&ref=other&x=",
        referrer="https://www.Google.com/search?q=chat",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
        accept_language="de-CH,de;q=0.9,en;q=0.8",
        visits=3,
        time_zone=ZoneInfo("Europe/Berlin"),
    ) == {
        "visitor.url": (
            "https://example.com/pricing/?utm_source=Google&utm_medium=cpc&ref=ad&ref=other&x="
        ),
        "visitor.path": "/pricing/",
        "visitor.query.utm_source": "Google",
        "visitor.query.utm_medium": "cpc",
        "visitor.query.ref": "ad",
        "visitor.query.x": "",
        "visitor.utm_source": "Google",
        "visitor.utm_medium": "cpc",
        "visitor.referrer": "https://www.Google.com/search?q=chat",
        "visitor.referrer_host": "www.google.com",
        "visitor.device": "mobile",
        "visitor.language": "de",
        "visitor.visits": 3,
        "visitor.returning": True,
        "visitor.weekday": "thursday",
        "visitor.hour": 0,
    }


def test_an_empty_request_knows_only_device_and_time():
    assert facts() == {
        "visitor.device": "desktop",
        "visitor.weekday": "wednesday",
        "visitor.hour": 23,
    }


def test_every_utm_parameter():
    query = "utm_source=a&utm_medium=b&utm_campaign=c&utm_term=d&utm_content=e&utm_id=f"
    found = facts(url=f"https://example.com/?{query}")
    assert {name: value for name, value in found.items() if name.startswith("visitor.utm_")} == {
        "visitor.utm_source": "a",
        "visitor.utm_medium": "b",
        "visitor.utm_campaign": "c",
        "visitor.utm_term": "d",
        "visitor.utm_content": "e",
    }
    assert found["visitor.query.utm_id"] == "f"


def test_query_values_are_decoded_and_names_kept_as_sent():
    found = facts(url="/landing?Campaign=Spring%20Sale&q=a+b&caf%C3%A9=1")
    assert found["visitor.path"] == "/landing"
    assert found["visitor.query.Campaign"] == "Spring Sale"
    assert found["visitor.query.q"] == "a b"
    assert found["visitor.query.café"] == "1"
    assert "visitor.query.campaign" not in found


def test_query_parameters_are_capped():
    url = "https://example.com/?" + "&".join(f"p{i}=v" for i in range(200))
    found = facts(url=url)
    assert sum(name.startswith("visitor.query.") for name in found) == 50
    assert len(facts(url="https://example.com/?a=" + "x" * 10_000)["visitor.url"]) == 2048


def test_a_malformed_url_still_gives_the_url():
    found = facts(url="http://[::1/path?x=1")
    assert found["visitor.url"] == "http://[::1/path?x=1"
    assert "visitor.query.x" not in found


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        ("https://news.example.org:8443/a?b=c", "news.example.org"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("not a url", None),
        ("http://[::1", None),
    ],
)
def test_referrer_host(referrer, host):
    found = facts(referrer=referrer)
    assert found["visitor.referrer"] == referrer
    assert found.get("visitor.referrer_host") == host


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        # Phones
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile "
            "Safari/537.36",
            "mobile",
        ),
        ("Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0", "mobile"),
        ("Opera/9.80 (J2ME/MIDP; Opera Mini/9.80) Presto/2.5.25", "mobile"),
        (
            "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Lumia 950) Mobile Safari/537.36",
            "mobile",
        ),
        ("Mozilla/5.0 (iPod touch; CPU iPhone OS 12_0 like Mac OS X)", "mobile"),
        # Tablets
        (
            "Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120.0 "
            "Safari/537.36",
            "tablet",
        ),
        ("Mozilla/5.0 (Android 13; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0", "tablet"),
        (
            "Mozilla/5.0 (Linux; U; en-us; KFTT) AppleWebKit/535.19 Silk/3.13 Safari/535.19",
            "tablet",
        ),
        # Desktops
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 "
            "Safari/537.36",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Safari/605.1.15",
            "desktop",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "desktop"),
        ("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0; Tablet PC 2.0)", "desktop"),
        ("curl/8.4.0", "desktop"),
        ("", "desktop"),
        (None, "desktop"),
    ],
)
def test_device_type(user_agent, device):
    assert device_type(user_agent) == device
    assert facts(user_agent=user_agent)["visitor.device"] == device


def test_device_type_reads_a_bounded_header():
    assert device_type("x" * 1000 + " iPhone") == "desktop"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-CH,de;q=0.9,en;q=0.8", "de"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("fr;q=0.5, nl;q=0.9", "nl"),
        ("fr;q=0.9, nl;q=0.9", "fr"),  # equal weights: the header's order
        ("*;q=1, es;q=0.1", "es"),
        ("de;q=0, fr;q=0.2", "fr"),  # q=0 means "not this one"
        ("de;q=abc, fr;q=0.2", "fr"),
        ("zh-Hant-TW", "zh"),
        ("", ""),
        (None, ""),
        ("123, !!", ""),
    ],
)
def test_primary_language(header, language):
    assert primary_language(header) == language
    assert facts(accept_language=header).get("visitor.language", "") == language


@pytest.mark.parametrize(
    ("visits", "returning"),
    [(1, False), (2, True), (0, False)],
)
def test_visits_and_returning(visits, returning):
    found = facts(visits=visits)
    assert found["visitor.visits"] == visits
    assert found["visitor.returning"] is returning


def test_unknown_visits_are_left_out():
    found = facts(visits=None)
    assert "visitor.visits" not in found
    assert "visitor.returning" not in found


@pytest.mark.parametrize(
    ("time_zone", "weekday", "hour"),
    [
        ("UTC", "wednesday", 23),
        (None, "wednesday", 23),
        ("Europe/Berlin", "thursday", 0),
        (ZoneInfo("America/New_York"), "wednesday", 18),
        ("Asia/Kolkata", "thursday", 5),
        ("Not/A_Zone", "wednesday", 23),  # a typo falls back to UTC
    ],
)
def test_local_weekday_and_hour(time_zone, weekday, hour):
    found = facts(time_zone=time_zone)
    assert (found["visitor.weekday"], found["visitor.hour"]) == (weekday, hour)


def test_a_naive_now_is_utc():
    found = facts(now=datetime.datetime(2025, 1, 15, 23, 30), time_zone="Europe/Berlin")
    assert (found["visitor.weekday"], found["visitor.hour"]) == ("thursday", 0)


def test_daylight_saving_time():
    summer = datetime.datetime(2025, 7, 1, 22, 30, tzinfo=datetime.UTC)
    found = facts(now=summer, time_zone="Europe/Berlin")
    assert (found["visitor.weekday"], found["visitor.hour"]) == ("wednesday", 0)

"""Privacy requests from the admin: export an e-mail address's data as a JSON download, and erase
it after a confirmation, exactly as the management commands do; who may do either.

Ada's data comes from the fixtures of test_privacy.py (two browsers, a meeting, Marketo writes).
"""

import io
import json
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from wagtail.models import ModelLogEntry
from wagtail.test.utils import WagtailTestUtils

from tests.test_admin_dialogues import make_editor, sidebar_menu, submenu
from wagtail_dynchat.admin.privacy_requests import ERASE_ACTION
from wagtail_dynchat.models import (
    Conversation,
    ConversationEvent,
    DailyStats,
    Meeting,
    OutboxItem,
    Person,
    Visitor,
)
from wagtail_dynchat.reports import privacy
from wagtail_dynchat.reports.metrics import Report, ReportFilters
from wagtail_dynchat.reports.rollup import local_today, rollup_day

from .test_privacy import EMAIL, everything_stored

# Fixtures, re-exported so pytest finds them here.
from .test_privacy import ada as ada
from .test_privacy import bob as bob

pytestmark = pytest.mark.django_db

NAMESPACE = "wagtail_dynchat_privacy"
# A valid address (a quoted local part) that is also markup.
SCRIPT_EMAIL = '"<script>alert(1)</script>"@client.example'


def url(name, **query):
    address = reverse(f"{NAMESPACE}:{name}")
    return f"{address}?{urlencode(query)}" if query else address


def soup(response):
    return WagtailTestUtils.get_soup(response.content)


def erase_preview(response):
    """The "what will be erased" table: {label: (count, what happens)}."""
    return {
        row.select_one("th").get_text(strip=True): tuple(
            cell.get_text(strip=True) for cell in row.select("td")
        )
        for row in soup(response).select("table.listing tbody tr")
    }


def stored_state():
    """What erase leaves, without the ids and tokens of the anonymous stand-ins it creates."""
    return {
        "people": sorted(map(str, Person.objects.values_list("email", "first_name", "attributes"))),
        "visitors": Visitor.objects.count(),
        "conversations": list(
            Conversation.objects.order_by("pk").values(
                "pk", "dialogue", "status", "transcript", "state", "context", "url", "score"
            )
        ),
        "events": list(
            ConversationEvent.objects.order_by("pk").values("pk", "kind", "card", "data")
        ),
        "meetings": list(
            Meeting.objects.order_by("pk").values(
                "pk", "email", "person", "answers", "invitation", "routing_log", "status"
            )
        ),
        "outbox": list(OutboxItem.objects.order_by("pk").values("pk", "payload")),
        "rollups": list(DailyStats.objects.order_by("pk").values()),
    }


def test_the_page_and_its_menu_item(admin_client, ada):
    response = admin_client.get(url("index", email=EMAIL))
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("input[name=email]")["value"] == EMAIL
    buttons = {b.get_text(strip=True): b["formaction"] for b in page.select("form button")}
    assert buttons == {"Export (JSON)": url("export"), "Erase…": url("erase")}
    assert page.select_one("form[method=post] input[name=csrfmiddlewaretoken]")
    menu = submenu(sidebar_menu(admin_client.get(reverse("wagtailadmin_home"))), "Dynamic Chat")
    assert ("Privacy requests", url("index")) in menu


def test_export_downloads_everything_known(admin_client, ada, bob):
    response = admin_client.post(url("export"), {"email": " Ada@Client.example "})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="dynchat-{EMAIL}.json"'
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    expected = json.loads(json.dumps(privacy.export(EMAIL), cls=privacy.JSON_ENCODER))
    data.pop("exported_at"), expected.pop("exported_at")
    assert data == expected
    assert len(data["conversations"]) == 2
    assert all(c["transcript"] for c in data["conversations"])
    assert {c["id"] for c in data["conversations"]} == set(
        Conversation.objects.filter(person=ada).values_list("public_id", flat=True)
    )
    assert "bob@client.example" not in response.content.decode()
    # The link on a person's page does the same.
    assert json.loads(admin_client.get(url("export", email=EMAIL)).content)["email"] == EMAIL


def test_export_of_an_unknown_or_invalid_address(admin_client, ada):
    response = admin_client.post(url("export"), {"email": "nobody@client.example"})
    assert response.status_code == 404
    assert "Content-Disposition" not in response
    message = soup(response).select_one("[data-not-found]").get_text(" ", strip=True)
    assert "Nothing is known about nobody@client.example" in message

    for value in ("not an address", "", "a@b@c.example"):
        response = admin_client.post(url("export"), {"email": value})
        assert response.status_code == 400
        assert response.context["form"].errors["email"]
        assert "Content-Disposition" not in response

    response = admin_client.post(url("export"), {"email": SCRIPT_EMAIL})
    assert response.status_code == 404
    assert "<script>alert(1)" not in response.content.decode()
    assert "&lt;script&gt;" in response.content.decode()


def test_erase_shows_what_it_will_do_first(admin_client, ada):
    stored = everything_stored()
    response = admin_client.post(url("erase"), {"email": EMAIL})
    assert response.status_code == 200
    events = ConversationEvent.objects.filter(conversation__person=ada).count()
    kept = "Kept without personal data, so reports still add up"
    assert erase_preview(response) == {
        "Person": ("1", "Deleted"),
        "Browsers (visitor cookies)": ("2", "Deleted"),
        "Conversations": ("2", kept),
        "Conversation events": (str(events), kept),
        "Meetings": ("1", kept),
        "Queued Marketo writes": ("2", "Deleted"),
    }
    form = soup(response).select_one("form[method=post]")
    assert form.select_one("input[name=csrfmiddlewaretoken]")
    assert form.select_one("input[name=email]")["value"] == EMAIL
    assert form.select_one("input[name=confirm_email]")
    # Nothing happened yet; the link on a person's page shows the same.
    assert everything_stored() == stored
    assert erase_preview(admin_client.get(url("erase", email=EMAIL)))["Meetings"][0] == "1"
    assert everything_stored() == stored


def test_erase_needs_the_address_typed_again(admin_client, ada):
    stored = everything_stored()
    for confirmation in ("", "someone@client.example"):
        response = admin_client.post(url("erase"), {"email": EMAIL, "confirm_email": confirmation})
        assert response.status_code == 400
        assert response.context["form"].errors["confirm_email"]
    # A tampered hidden address is a form error too, not a 500.
    response = admin_client.post(url("erase"), {"email": "nope", "confirm_email": "nope"})
    assert response.status_code == 400
    assert everything_stored() == stored


def test_erase_does_what_the_command_does(admin_client, ada, bob):
    rollup_day(local_today())
    before = Report(ReportFilters.for_preset("today")).totals()
    # What the command leaves, then undone.
    with transaction.atomic():
        call_command("dynchat_privacy_erase", EMAIL, "--yes", stdout=io.StringIO())
        by_command = stored_state()
        transaction.set_rollback(True)
    assert Person.objects.filter(email=EMAIL).exists()

    response = admin_client.post(
        url("erase"), {"email": EMAIL, "confirm_email": "ADA@client.example "}, follow=True
    )
    assert response.redirect_chain == [(url("index"), 302)]
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("The personal data was erased (people: 1, browsers: 2")
    assert EMAIL not in message

    assert stored_state() == by_command
    assert EMAIL not in everything_stored()
    # Rollups kept, and the day still counts the same.
    after = Report(ReportFilters.for_preset("today")).totals()
    for name in ("triggered", "engaged", "completed", "people_acquired", "goals_reached"):
        assert after[name] == before[name]
    assert privacy.export("bob@client.example")["conversations"][0]["transcript"]


def test_erase_is_in_the_audit_log_without_the_address(admin_client, ada):
    person_id = ada.pk
    admin_client.post(url("erase"), {"email": EMAIL, "confirm_email": EMAIL})
    entry = ModelLogEntry.objects.get(action=ERASE_ACTION)
    assert entry.user.username == "admin"
    assert entry.object_id == str(person_id)
    assert entry.data["counts"]["people"] == 1
    assert entry.data["counts"]["conversations"] == 2
    logged = json.dumps([entry.label, entry.data]).lower()
    assert "ada" not in logged and "client.example" not in logged
    # The same address gives the same digest (to answer "was it erased?"), and others don't.
    from wagtail_dynchat.admin.privacy_requests import email_digest

    assert entry.data["email_digest"] == email_digest(EMAIL) != email_digest("bob@client.example")
    # The site history report says what was done.
    history = admin_client.get(reverse("wagtailadmin_reports:site_history"))
    text = soup(history).get_text(" ", strip=True)
    assert "Erased the personal data of 1 person (people: 1, browsers: 2" in text
    assert EMAIL not in history.content.decode()


def test_erasing_an_unknown_address(admin_client, ada):
    stored = everything_stored()
    response = admin_client.post(url("erase"), {"email": "nobody@client.example"})
    assert response.status_code == 404
    assert soup(response).select_one("[data-not-found]")
    response = admin_client.post(
        url("erase"),
        {"email": "nobody@client.example", "confirm_email": "nobody@client.example"},
        follow=True,
    )
    assert [str(m).strip() for m in response.context["messages"]] == [
        "Nothing is known about this address: nothing was erased."
    ]
    assert everything_stored() == stored
    assert not ModelLogEntry.objects.filter(action=ERASE_ACTION).exists()


def test_erase_needs_a_csrf_token(ada):
    client = Client(enforce_csrf_checks=True)
    client.force_login(
        get_user_model().objects.create_superuser("root", "root@ourco.example", "pw")
    )
    response = client.post(url("erase"), {"email": EMAIL, "confirm_email": EMAIL})
    assert response.status_code == 403
    assert Person.objects.filter(email=EMAIL).exists()


def test_editors_without_permission_are_refused(ada):
    client = make_editor("outsider", "view", model="conversation")
    assert "Privacy requests" not in json.dumps(
        sidebar_menu(client.get(reverse("wagtailadmin_home")))
    )
    for response in (
        client.get(url("index")),
        client.post(url("export"), {"email": EMAIL}),
        client.get(url("export", email=EMAIL)),
        client.post(url("erase"), {"email": EMAIL}),
        client.post(url("erase"), {"email": EMAIL, "confirm_email": EMAIL}),
    ):
        assert response.status_code == 403
        assert "Content-Disposition" not in response
        assert soup(response).select_one("[data-refused]")
    assert Person.objects.filter(email=EMAIL).exists()


def test_viewers_may_export_but_not_erase(ada):
    client = make_editor("viewer", "view", model="person")
    menu = submenu(sidebar_menu(client.get(reverse("wagtailadmin_home"))), "Dynamic Chat")
    assert ("Privacy requests", url("index")) in menu
    page = soup(client.get(url("index")))
    assert [b.get_text(strip=True) for b in page.select("form button")] == ["Export (JSON)"]
    assert client.post(url("export"), {"email": EMAIL}).status_code == 200
    assert client.get(url("erase", email=EMAIL)).status_code == 403
    response = client.post(url("erase"), {"email": EMAIL, "confirm_email": EMAIL})
    assert response.status_code == 403
    assert Person.objects.filter(email=EMAIL).exists()


def test_erasers_may_erase(ada):
    client = make_editor("eraser", "delete", model="person")
    menu = submenu(sidebar_menu(client.get(reverse("wagtailadmin_home"))), "Dynamic Chat")
    assert menu == [("Privacy requests", url("index"))]
    page = soup(client.get(url("index")))
    assert [b.get_text(strip=True) for b in page.select("form button")] == ["Erase…"]
    assert client.post(url("export"), {"email": EMAIL}).status_code == 403
    response = client.post(url("erase"), {"email": EMAIL, "confirm_email": EMAIL})
    assert response.status_code == 302
    assert not Person.objects.filter(email=EMAIL).exists()

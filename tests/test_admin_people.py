"""People in the admin: the read-only listing with its search and filters, a person's page with
their conversations, meetings and goals (each linked), and who may see them.

People are made the way visitors make them, through the public API.
"""

import json
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone
from wagtail.test.utils import WagtailTestUtils

from tests.conftest import ChatClient, make_dialogue
from tests.reports.test_metrics import book, make_agent
from tests.test_admin_dialogues import make_editor, sidebar_menu, submenu
from wagtail_dynchat.models import Conversation, Person
from wagtail_dynchat.snippets.blueprints import branch, capture, goal

pytestmark = pytest.mark.django_db

NAMESPACE = "wagtail_dynchat_people"
SCRIPT = "<script>alert('hi')</script>"

LEAD_FLOW = [
    branch(
        "start",
        "",
        capture("text", "<p>First name?</p>", "first_name", policy="always"),
        capture("text", "<p>Last name?</p>", "last_name", policy="always"),
        capture("text", "<p>Company?</p>", "company", policy="always"),
        capture("email", "<p>And your e-mail?</p>", "email", policy="always"),
        goal("Lead", 2),
    )
]


def url(name, *args):
    return reverse(f"{NAMESPACE}:{name}", args=args)


def conversation_url(conversation):
    return reverse("wagtail_dynchat_conversations:inspect", args=[conversation.pk])


@pytest.fixture
def people(pages, simple_dialogue):
    """Ada Lovelace (her company is a script tag) became a lead and booked a meeting; Bob only
    opened the chat; Carl came from Marketo and never chatted."""
    lead = make_dialogue(LEAD_FLOW, name="Lead capture", targets=[(pages["contact"], "page")])
    chat = ChatClient()
    conversation = chat.start(lead, pages["contact"]).json()["conversation"]
    for answer in ("Ada", "Lovelace", SCRIPT, "ada@example.com"):
        conversation = chat.answer(conversation, answer).json()["conversation"]
    assert conversation["status"] == "completed"
    ada = Person.objects.get(email="ada@example.com")
    meeting = book(ada.conversations.get(), make_agent("grace"), at=timezone.now())

    assert ChatClient().start(simple_dialogue, pages["pricing"]).status_code == 201
    bob = Person.objects.get(conversations__dialogue=simple_dialogue)
    carl = Person.objects.create(email="carl@initech.example", first_name="Carl", company="Initech")
    return {"ada": ada, "bob": bob, "carl": carl, "meeting": meeting}


def listed(client, **params):
    response = client.get(url("index"), params)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["object_list"]}


def rows(response):
    soup = WagtailTestUtils.get_soup(response.content)
    return [
        [cell.get_text(" ", strip=True) for cell in row.select("td")]
        for row in soup.select("tbody tr")
    ]


def test_the_listing_shows_everyone(admin_client, people):
    response = admin_client.get(url("index"))
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    headings = [th.get_text(" ", strip=True) for th in soup.select("thead th")]
    assert headings == ["E-mail address", "Name", "Company", "Created", "Last seen"]
    carl, bob, ada = rows(response)
    assert carl[:3] == ["carl@initech.example", "Carl", "Initech"]
    assert bob[0] == f"Anonymous visitor #{people['bob'].pk}"
    assert ada[:3] == ["ada@example.com", "Ada Lovelace", SCRIPT]
    # Each row leads to the person's page.
    links = {a["href"] for a in soup.select("tbody a[href]")}
    assert {url("inspect", people[name].pk) for name in ("ada", "bob", "carl")} <= links
    # What visitors typed is text, never markup.
    assert SCRIPT not in response.content.decode()


def test_search_by_email_and_name(admin_client, people):
    ada, carl = people["ada"].pk, people["carl"].pk
    assert listed(admin_client, q="ada@example") == {ada}
    assert listed(admin_client, q="LOVELACE") == {ada}
    assert listed(admin_client, q="ada lovelace") == {ada}
    assert listed(admin_client, q="carl") == {carl}
    assert listed(admin_client, q="example") == {ada, carl}
    assert listed(admin_client, q="ada carl") == set()


def test_filters(admin_client, people):
    ada, bob, carl = (people[name].pk for name in ("ada", "bob", "carl"))
    assert listed(admin_client, known="known") == {ada, carl}
    assert listed(admin_client, known="anonymous") == {bob}
    assert listed(admin_client, company="initech") == {carl}
    assert listed(admin_client, company="<script") == {ada}
    assert listed(admin_client, has_meetings="yes") == {ada}
    assert listed(admin_client, has_meetings="no") == {bob, carl}
    assert listed(admin_client, known="known", has_meetings="no") == {carl}


def test_an_invalid_filter_is_a_form_error(admin_client, people):
    response = admin_client.get(url("index"), {"known": "<b>maybe</b>"})
    assert response.status_code == 200
    assert response.context["filters"].errors["known"]
    assert "<b>maybe</b>" not in response.content.decode()


def test_a_persons_page(admin_client, people):
    ada, meeting = people["ada"], people["meeting"]
    conversation = ada.conversations.get()
    response = admin_client.get(url("inspect", ada.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert SCRIPT not in content
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in content
    soup = WagtailTestUtils.get_soup(response.content)
    fields = dict(
        zip(
            [dt.get_text(strip=True) for dt in soup.select("dl dt")],
            [dd.get_text(" ", strip=True) for dd in soup.select("dl dd")],
            strict=True,
        )
    )
    assert fields["E-mail address"] == "ada@example.com"
    assert fields["Last name"] == "Lovelace"
    assert fields["Browsers"] == "1"

    # Their conversation, linked to its transcript.
    [row] = soup.select("[data-conversations] tbody tr")
    link = row.select_one("a")
    assert link["href"] == conversation_url(conversation)
    assert "Lead capture" in link.get_text()
    transcript = admin_client.get(link["href"])
    assert transcript.status_code == 200
    assert "Lovelace" in transcript.content.decode()
    # … and all of them in the conversations listing.
    listing = soup.select_one(
        'a[href="{}"]'.format(
            reverse("wagtail_dynchat_conversations:index") + "?" + urlencode({"person": ada.pk})
        )
    )
    assert listing is not None
    response = admin_client.get(listing["href"])
    assert [c.pk for c in response.context["object_list"]] == [conversation.pk]

    # Their meeting, linked to its page, which links back to them and to the transcript.
    [row] = soup.select("[data-meetings] tbody tr")
    link = row.select_one("a")
    assert link["href"] == reverse("dynchat_meetings_modeladmin_inspect", args=[meeting.pk])
    assert "Grace" in row.get_text()
    meeting_page = WagtailTestUtils.get_soup(admin_client.get(link["href"]).content)
    hrefs = {a["href"] for a in meeting_page.select("a[href]")}
    assert {url("inspect", ada.pk), conversation_url(conversation)} <= hrefs

    # The goal reached.
    [goal_row] = soup.select("[data-goals] tbody tr")
    assert [cell.get_text(strip=True) for cell in goal_row.select("td")][:3] == [
        "Lead",
        "2",
        "Lead capture",
    ]

    # Privacy requests for her address.
    buttons = {a.get_text(strip=True): a["href"] for a in soup.select("#privacy ~ div a")}
    query = urlencode({"email": "ada@example.com"})
    assert buttons == {
        "Export data (JSON)": reverse("wagtail_dynchat_privacy:export") + "?" + query,
        "Erase": reverse("wagtail_dynchat_privacy:erase") + "?" + query,
    }
    export = admin_client.get(buttons["Export data (JSON)"])
    assert export.status_code == 200
    data = json.loads(b"".join(export.streaming_content) if export.streaming else export.content)
    assert [c["dialogue"] for c in data["conversations"]] == ["Lead capture"]
    assert admin_client.get(buttons["Erase"]).status_code == 200


def test_an_anonymous_persons_page(admin_client, people):
    bob = people["bob"]
    response = admin_client.get(url("inspect", bob.pk))
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    assert len(soup.select("[data-conversations] tbody tr")) == 1
    assert "No meetings." in soup.get_text()
    assert "No goals reached." in soup.get_text()
    # Privacy requests go by e-mail address, which Bob never gave.
    assert soup.select_one("#privacy") is None


def test_no_add_edit_or_delete(admin_client, people):
    ada = people["ada"]
    inspect = admin_client.get(url("inspect", ada.pk)).content.decode()
    assert url("edit", ada.pk) not in inspect
    assert url("delete", ada.pk) not in inspect
    assert url("add") not in admin_client.get(url("index")).content.decode()
    for response in (
        admin_client.get(url("add")),
        admin_client.get(url("edit", ada.pk)),
        admin_client.post(url("edit", ada.pk), {"first_name": "Eve"}),
        admin_client.get(url("delete", ada.pk)),
        admin_client.post(url("delete", ada.pk)),
    ):
        assert response.status_code == 302
        assert response.url == reverse("wagtailadmin_home")
    ada.refresh_from_db()
    assert ada.first_name == "Ada"
    assert Conversation.objects.filter(person=ada).exists()


def test_the_menu(admin_client, people):
    menu = submenu(sidebar_menu(admin_client.get(reverse("wagtailadmin_home"))), "Dynamic Chat")
    assert ("People", url("index")) in menu
    assert ("Privacy requests", reverse("wagtail_dynchat_privacy:index")) in menu


def test_editors_without_the_view_permission_see_nothing(people):
    client = make_editor("outsider")
    home = client.get(reverse("wagtailadmin_home"))
    assert "People" not in json.dumps(sidebar_menu(home))
    for response in (client.get(url("index")), client.get(url("inspect", people["ada"].pk))):
        assert response.status_code == 302
        assert response.url == reverse("wagtailadmin_home")


def test_editors_with_the_view_permission(people):
    ada = people["ada"]
    client = make_editor("reader", "view", model="person")
    menu = submenu(sidebar_menu(client.get(reverse("wagtailadmin_home"))), "Dynamic Chat")
    assert menu == [
        ("People", url("index")),
        ("Privacy requests", reverse("wagtail_dynchat_privacy:index")),
    ]
    assert listed(client) == {ada.pk, people["bob"].pk, people["carl"].pk}
    soup = WagtailTestUtils.get_soup(client.get(url("inspect", ada.pk)).content)
    # Conversations are listed but not linked: this editor may not open them.
    [row] = soup.select("[data-conversations] tbody tr")
    assert "Lead capture" in row.get_text() and row.select_one("a") is None
    # Exporting is allowed, erasing is not.
    labels = [a.get_text(strip=True) for a in soup.select("#privacy ~ div a")]
    assert labels == ["Export data (JSON)"]
    assert "delete" not in str(soup.select_one("header"))

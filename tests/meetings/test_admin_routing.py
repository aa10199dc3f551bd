"""The routing admin (wagtail-modeladmin, "Sales" menu): queues with their agents in order and who
is next, routing rules by priority, and accounts with their CSV import (all or nothing, problems
reported per line) and export. Sales admins use it all; calendar agents none of it."""

import csv
import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from wagtail.test.utils import WagtailTestUtils
from wagtail.test.utils.form_data import inline_formset, nested_form_data

from tests.meetings.test_admin_meetings import (
    CALENDAR_AGENT,
    SALES_ADMIN,
    make_agent,
    member_of,
    shown_messages,
)
from tests.test_admin_dialogues import form_value
from wagtail_dynchat.admin.routing import next_agent, read_accounts
from wagtail_dynchat.models import (
    Account,
    Agent,
    CalendarConnection,
    MeetingQueue,
    QueueMember,
    RoutingRule,
)

pytestmark = pytest.mark.django_db


def url(model, action, *args):
    return reverse(f"dynchat_{model}_modeladmin_{action}", args=args)


def rows(response):
    soup = WagtailTestUtils.get_soup(response.content)
    return [
        [cell.get_text(" ", strip=True) for cell in row.select("td")]
        for row in soup.select(".result-list tbody tr")
    ]


def first_words(response):
    return [row[0].split()[0] for row in rows(response)]


@pytest.fixture
def sales():
    return member_of(SALES_ADMIN, "sally")


@pytest.fixture
def agents():
    return {name: make_agent(name) for name in ("ann", "bob", "cid")}


def make_queue(name, members, **fields):
    queue = MeetingQueue.objects.create(name=name, **fields)
    for index, (agent, weight) in enumerate(members):
        QueueMember.objects.create(queue=queue, agent=agent, weight=weight, sort_order=index)
    return queue


def queue_form(name, strategy, members):
    """The queue editor's POST: ``members`` are (member id or "", agent, weight) in order."""
    return nested_form_data(
        {
            "name": name,
            "strategy": strategy,
            "members": inline_formset(
                [
                    {"id": member_id, "agent": agent.pk, "weight": weight}
                    for member_id, agent, weight in members
                ],
                initial=sum(1 for member_id, _agent, _weight in members if member_id),
            ),
        }
    )


def order(queue):
    return [member.agent.user.username for member in queue.members.order_by("sort_order")]


# ---- queues -----------------------------------------------------------------------------------


def test_create_a_queue_with_its_agents_in_order(sales, agents):
    editor = sales.get(url("queues", "create"))
    assert editor.status_code == 200
    # The members' inline panel can be reordered (Orderable: each form has its ORDER field).
    assert b"members-__prefix__-ORDER" in editor.content

    response = sales.post(
        url("queues", "create"),
        queue_form(
            "Inbound",
            MeetingQueue.WEIGHTED,
            [("", agents["cid"], 1), ("", agents["ann"], 2), ("", agents["bob"], 1)],
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    queue = MeetingQueue.objects.get(name="Inbound")
    assert queue.strategy == MeetingQueue.WEIGHTED
    assert order(queue) == ["cid", "ann", "bob"]
    assert [m.weight for m in queue.members.order_by("sort_order")] == [1, 2, 1]


def test_reorder_a_queue_and_see_who_is_next(sales, agents):
    queue = make_queue("Inbound", [(agents["ann"], 1), (agents["bob"], 1), (agents["cid"], 1)])
    queue.last_agent = agents["ann"]
    queue.save()
    listing = sales.get(url("queues", "index"))
    assert rows(listing)[0][1:] == [
        "Round robin: the next agent in order",
        "Ann, Bob, Cid",
        "Bob",
    ]

    # Drag Cid between Ann and Bob: after Ann (who had the last meeting) comes Cid.
    editor = sales.get(url("queues", "edit", queue.pk))
    # A drag handle on each of the three agents and on the template for a new one.
    assert editor.content.count(b"data-inline-panel-child-drag") == 4
    members = {m.agent_id: m.pk for m in queue.members.all()}
    response = sales.post(
        url("queues", "edit", queue.pk),
        queue_form(
            "Inbound",
            MeetingQueue.ROUND_ROBIN,
            [
                (members[agents["ann"].pk], agents["ann"], 1),
                (members[agents["cid"].pk], agents["cid"], 1),
                (members[agents["bob"].pk], agents["bob"], 1),
            ],
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    assert order(queue) == ["ann", "cid", "bob"]
    assert rows(sales.get(url("queues", "index")))[0][2:] == ["Ann, Cid, Bob", "Cid"]


def next_name(queue):
    queue = MeetingQueue.objects.prefetch_related("members__agent__connection").get(pk=queue.pk)
    agent = next_agent(queue)
    return agent.user.username if agent else None


def test_next_agent_follows_the_strategy_and_skips_agents_out_of_rotation(agents):
    ann, bob, cid = agents["ann"], agents["bob"], agents["cid"]
    queue = make_queue("Inbound", [(ann, 1), (bob, 1), (cid, 1)])
    assert next_name(queue) == "ann"  # nobody booked yet: the first
    MeetingQueue.objects.filter(pk=queue.pk).update(last_agent=cid)
    assert next_name(queue) == "ann"  # wraps around
    MeetingQueue.objects.filter(pk=queue.pk).update(last_agent=ann)
    assert next_name(queue) == "bob"
    CalendarConnection.objects.filter(agent=bob).update(status=CalendarConnection.NEEDS_REAUTH)
    assert next_name(queue) == "cid"  # Bob's calendar needs signing in again
    Agent.objects.filter(pk=cid.pk).update(active=False)
    assert next_name(queue) == "ann"  # Cid is off: round to Ann again
    QueueMember.objects.filter(agent=ann).update(weight=0)
    assert next_name(queue) is None

    weighted = make_queue("Weighted", [(ann, 2), (bob, 1)], strategy=MeetingQueue.WEIGHTED)
    CalendarConnection.objects.filter(agent=bob).update(status=CalendarConnection.CONNECTED)
    QueueMember.objects.filter(queue=weighted, agent=ann).update(booked=1)
    assert next_name(weighted) == "bob"  # (1 + 1) / 2 = 1 against (0 + 1) / 1 = 1: order wins
    QueueMember.objects.filter(queue=weighted, agent=bob).update(booked=1)
    assert next_name(weighted) == "ann"

    recent = make_queue("Recent", [(ann, 1), (bob, 1)], strategy=MeetingQueue.LEAST_RECENT)
    QueueMember.objects.filter(agent=ann).update(weight=1)
    now = timezone.now()
    Agent.objects.filter(pk=ann.pk).update(last_booked_at=now)
    Agent.objects.filter(pk=bob.pk).update(last_booked_at=now - datetime.timedelta(days=1))
    assert next_name(recent) == "bob"


def test_queue_listing_says_when_nobody_is_in_rotation(sales, agents):
    make_queue("Empty", [])
    assert rows(sales.get(url("queues", "index")))[0][2:] == ["-", "Nobody is in rotation"]


# ---- routing rules ----------------------------------------------------------------------------

GERMANS = [
    (
        "audience",
        {
            "match": "any",
            "groups": [
                {
                    "match": "all",
                    "rules": [{"attribute": "visitor.language", "operator": "is", "value": "de"}],
                }
            ],
        },
    )
]


def audience_form(raw):
    block = RoutingRule._meta.get_field("audience").stream_block
    return form_value(block, block.to_python([{"type": t, "value": v} for t, v in raw]))


def test_create_a_rule_with_an_audience_and_list_rules_by_priority(sales, agents):
    queue = make_queue("DACH", [(agents["ann"], 1)])
    editor = sales.get(url("routing-rules", "create"))
    assert editor.status_code == 200
    # The audience is edited with the StreamField editor (as a dialogue's audience is).
    soup = WagtailTestUtils.get_soup(editor.content)
    assert soup.select_one("#audience[data-controller='w-block']")
    response = sales.post(
        url("routing-rules", "create"),
        nested_form_data(
            {
                "name": "German speakers",
                "priority": "80",
                "audience": audience_form(GERMANS),
                "queue": queue.pk,
                "active": "on",
            }
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    rule = RoutingRule.objects.get(name="German speakers")
    assert rule.compile_audience()["groups"][0]["rules"][0]["value"] == "de"

    RoutingRule.objects.create(name="Everybody else", priority=10, queue=queue, audience=[])
    RoutingRule.objects.create(name="Partners", priority=90, queue=queue, audience=[])
    listing = rows(sales.get(url("routing-rules", "index")))
    assert [row[0].split(" Edit")[0] for row in listing] == [
        "Partners",
        "German speakers",
        "Everybody else",
    ]
    german = listing[1]
    assert german[1] == "80" and german[3] == "DACH"
    assert "de" in german[2]
    assert listing[2][2] == "Everyone"


# ---- accounts ---------------------------------------------------------------------------------


def upload(client, text, name="accounts.csv", encoding="utf-8"):
    return client.post(
        url("accounts", "import"),
        {"file": SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")},
        follow=True,
    )


def problems(response):
    soup = WagtailTestUtils.get_soup(response.content)
    return [
        (row.select("td")[0].get_text(strip=True), row.select("td")[1].get_text(strip=True))
        for row in soup.select("table[aria-labelledby='import-errors'] tbody tr")
    ]


def test_accounts_listing_search_and_form(sales, agents):
    Account.objects.create(name="Acme", domain="acme.example", agent=agents["ann"])
    Account.objects.create(name="Globex", domain="", agent=agents["bob"])
    listing = sales.get(url("accounts", "index"))
    assert sorted(first_words(listing)) == ["Acme", "Globex"]
    assert first_words(sales.get(url("accounts", "index"), {"q": "acme.ex"})) == ["Acme"]
    assert first_words(sales.get(url("accounts", "index"), {"q": "bob@ourco"})) == ["Globex"]
    assert b"Import CSV" in listing.content

    # The form keeps domains as routing compares them, and refuses what routing can't use.
    created = sales.post(
        url("accounts", "create"),
        {"name": "Initech", "domain": " @Initech.EXAMPLE ", "agent": agents["cid"].pk},
    )
    assert created.status_code == 302
    assert Account.objects.get(name="Initech").domain == "initech.example"
    for domain, error in (
        ("ACME.example", "acme.example already belongs to the account “Acme”."),
        ("not a domain", "“not a domain” is not a domain such as example.com."),
        ("", "Give the company's name, its domain or both."),
    ):
        name = "" if not domain else "Other"
        response = sales.post(
            url("accounts", "create"), {"name": name, "domain": domain, "agent": agents["ann"].pk}
        )
        assert response.status_code == 200
        assert response.context["form"].errors == {"domain": [error]}
    assert Account.objects.count() == 3


GOOD_CSV = """name,domain,agent_email
Acme,acme.example,ann@ourco.example
,globex.example,BOB@ourco.example
Initech,,cid@ourco.example
"""


def test_import_accounts(sales, agents):
    page = sales.get(url("accounts", "import"))
    assert page.status_code == 200
    assert "All or nothing:" in page.content.decode()
    response = upload(sales, "\ufeff" + GOOD_CSV)  # Excel's "CSV UTF-8" starts with a BOM
    assert response.redirect_chain == [(url("accounts", "index"), 302)]
    assert shown_messages(response) == ["Imported 3 accounts."]
    assert sorted(Account.objects.values_list("name", "domain", "agent__user__username")) == [
        ("", "globex.example", "bob"),
        ("Acme", "acme.example", "ann"),
        ("Initech", "", "cid"),
    ]


def test_import_reports_problems_per_line_and_imports_nothing(sales, agents):
    Account.objects.create(name="Existing", domain="taken.example", agent=agents["ann"])
    text = (
        "name,domain,agent_email\n"
        "Good,good.example,ann@ourco.example\n"  # 2: fine on its own
        "Ghost,ghost.example,nobody@ourco.example\n"  # 3: unknown agent
        "Bad,not a domain,bob@ourco.example\n"  # 4: invalid domain
        "\n"  # 5: blank lines are skipped
        "Twice,good.example,cid@ourco.example\n"  # 6: duplicate of line 2
        "Again,Taken.Example,cid@ourco.example\n"  # 7: already an account
        ",,ann@ourco.example\n"  # 8: neither name nor domain
        "Short,short.example\n"  # 9: a value missing
        "NoAgent,noagent.example,\n"  # 10: no agent
    )
    response = upload(sales, text)
    assert response.status_code == 200 and not response.redirect_chain
    assert shown_messages(response) == ["Nothing was imported: 7 problems."]
    assert problems(response) == [
        ("3", "No calendar agent has the e-mail address nobody@ourco.example."),
        ("4", "“not a domain” is not a domain such as example.com."),
        ("6", "good.example is already on line 2."),
        ("7", "taken.example already belongs to the account “Existing”."),
        ("8", "Give the company's name, its domain or both."),
        ("9", "Expected 3 values, found 2."),
        ("10", "The agent_email is missing."),
    ]
    assert list(Account.objects.values_list("name", flat=True)) == ["Existing"]


def test_import_needs_the_header(sales, agents):
    response = upload(sales, "Acme,acme.example,ann@ourco.example\n")
    assert problems(response) == [
        (
            "1",
            "The first line must name the columns name, domain and agent_email "
            "(found: acme, acme.example, ann@ourco.example).",
        )
    ]
    response = upload(sales, "")
    assert response.context["form"].errors == {"file": ["The submitted file is empty."]}
    response = upload(sales, "name,domain,agent_email\n")
    assert problems(response) == [("2", "The file has no accounts below its first line.")]
    assert not Account.objects.exists()


def test_import_reads_semicolons_and_refuses_other_encodings(sales, agents):
    response = upload(sales, "name;domain;agent_email\nMüller;mueller.example;ann@ourco.example\n")
    assert shown_messages(response) == ["Imported 1 account."]
    assert Account.objects.get().name == "Müller"
    response = upload(
        sales, "name,domain,agent_email\nJürgen,j.example,ann@ourco.example\n", encoding="latin-1"
    )
    assert response.context["form"].errors == {
        "file": ["The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."]
    }


def test_read_accounts_counts_lines_of_quoted_values():
    _accounts, errors = read_accounts(
        'name,domain,agent_email\n"Two\nlines",two.example,x@y.example\n'
        "Bad,bad domain,x@y.example\n"
    )
    # The second record starts on line 4 (the first spans lines 2 and 3).
    assert (4, "“bad domain” is not a domain such as example.com.") in errors


def test_read_accounts_refuses_overlong_values(agents):
    long_name = "N" * 256
    _accounts, errors = read_accounts(
        "name,domain,agent_email\n"
        f"{long_name},long.example,ann@ourco.example\n"
        f"Huge,{'x' * 200_000}.example,ann@ourco.example\n"
        "Never,read.example,ann@ourco.example\n"
    )
    assert errors[0] == (2, "The name is longer than 255 characters.")
    line, message = errors[1]
    assert line == 3 and message.startswith("The file can't be read from here on:")
    assert len(errors) == 2


def test_export_accounts_in_the_import_format(sales, agents):
    upload(sales, GOOD_CSV)
    response = sales.get(url("accounts", "index"), {"export": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="accounts.csv"'
    text = b"".join(response.streaming_content).decode()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["name", "domain", "agent_email"]
    assert sorted(table[1:]) == [
        ["", "globex.example", "bob@ourco.example"],
        ["Acme", "acme.example", "ann@ourco.example"],
        ["Initech", "", "cid@ourco.example"],
    ]


# ---- who may ----------------------------------------------------------------------------------


def test_calendar_agents_cannot_use_the_routing_admin(agents):
    queue = make_queue("Inbound", [(agents["ann"], 1)])
    account = Account.objects.create(name="Acme", domain="acme.example", agent=agents["ann"])
    agent = member_of(CALENDAR_AGENT, "carla")
    xhr = {"x-requested-with": "XMLHttpRequest"}
    for path in (
        url("queues", "index"),
        url("queues", "create"),
        url("queues", "edit", queue.pk),
        url("routing-rules", "index"),
        url("routing-rules", "create"),
        url("accounts", "index"),
        url("accounts", "edit", account.pk),
        url("accounts", "import"),
    ):
        assert agent.get(path, headers=xhr).status_code == 403, path
        response = agent.get(path, follow=True)
        assert response.redirect_chain == [(reverse("wagtailadmin_home"), 302)], path
    assert agent.post(url("accounts", "import"), {"file": ""}, headers=xhr).status_code == 403
    response = agent.post(url("queues", "edit", queue.pk), {"name": "Mine"}, headers=xhr)
    assert response.status_code == 403
    assert MeetingQueue.objects.get().name == "Inbound"


def test_sales_admins_use_all_of_it(sales, agents):
    queue = make_queue("Inbound", [(agents["ann"], 1)])
    account = Account.objects.create(name="Acme", domain="acme.example", agent=agents["ann"])
    rule = RoutingRule.objects.create(name="All", queue=queue, audience=[])
    for path in (
        url("queues", "index"),
        url("queues", "create"),
        url("queues", "edit", queue.pk),
        url("queues", "delete", queue.pk),
        url("routing-rules", "index"),
        url("routing-rules", "edit", rule.pk),
        url("accounts", "index"),
        url("accounts", "create"),
        url("accounts", "edit", account.pk),
        url("accounts", "import"),
    ):
        assert sales.get(path).status_code == 200, path

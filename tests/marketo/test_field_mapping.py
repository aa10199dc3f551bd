"""Marketo field mapping (issue 6): the admin page that maps Marketo's person and company fields,
the mapped fields as attributes, tokens and capture targets, their write-back, and the refusal
to remove a field that live dialogues use. Marketo is the loopback fake throughout."""

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from tests.conftest import branch, capture, make_dialogue, message, question
from tests.fakes import marketo as marketo_fakes
from tests.test_admin_dialogues import dialogue_form, rendered_flow_errors
from tests.test_admin_dialogues import url as dialogue_url
from tests.test_scenarios import Browser, audience, condition, make, rule
from wagtail_dynchat.attributes import attribute_choices, get_attributes, person_facts
from wagtail_dynchat.marketo import describe, field_usage, mapping, outbox, tasks
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.models import Company, Dialogue, MarketoField, Person, Visitor
from wagtail_dynchat.person_fields import get_person_fields, person_field_choices

marketo_fake = marketo_fakes.marketo_fake

INDEX = "wagtail_dynchat_marketo_fields:index"


@pytest.fixture(autouse=True)
def _fast_client(monkeypatch):
    monkeypatch.setattr(
        tasks, "make_client", lambda: MarketoClient(max_attempts=2, sleep=lambda s: None)
    )


def add_url(object_="lead"):
    return reverse("wagtail_dynchat_marketo_fields:add", args=[object_])


def map_field(client, rest_name, object_="lead", **data):
    """POST the add form for ``rest_name``; ``name`` and ``label`` default as the form does."""
    payload = {"field": rest_name, "name": rest_name.lower(), "label": rest_name, **data}
    return client.post(add_url(object_), {k: v for k, v in payload.items() if v is not None})


def mapped(object_="lead", **fields):
    defaults = {"rest_name": "industry", "name": "industry", "label": "Industry"}
    defaults.update(fields)
    defaults.setdefault("data_type", "string")
    return MarketoField.objects.create(object=object_, **defaults)


def text_of(response):
    return response.content.decode()


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


# -- the page ------------------------------------------------------------------------------


def test_the_page_lists_marketo_fields_and_the_always_mapped_ones(admin_client, marketo_fake):
    response = admin_client.get(reverse(INDEX))
    assert response.status_code == 200
    content = text_of(response)
    # The help names a token literally (not a template variable that renders empty).
    assert "tokens such as <code>{{ person.industry }}</code>" in content
    for builtin in ("email", "first_name", "job_title"):
        assert f'data-builtin-field="{builtin}"' in content
    for rest_name in ("industry", "annualRevenue", "leadScore", "sfdcType"):
        assert f'data-available-field="{rest_name}"' in content
    # Built-in and system fields are not offered again.
    for rest_name in ("email", "firstName", "id", "updatedAt"):
        assert f'data-available-field="{rest_name}"' not in content
    # The company section lists the Companies API's fields; one missing from leads can't sync.
    company = content[content.index('data-marketo-object="company"') :]
    assert 'data-available-field="numberOfEmployees"' in company
    assert "Not on person records in Marketo" in company
    assert 'data-available-field="externalCompanyId"' not in company

    # Describe results are cached (Marketo: at least a day); Refresh asks again.
    admin_client.get(reverse(INDEX))
    assert len(marketo_fake.calls("leads.describe")) == 1
    assert len(marketo_fake.calls("companies.describe")) == 1
    refreshed = admin_client.post(reverse(INDEX), {"refresh": "1"}, follow=True)
    assert messages_of(refreshed) == ["Fields reloaded from Marketo."]
    assert len(marketo_fake.calls("leads.describe")) == 2
    assert len(marketo_fake.calls("companies.describe")) == 2


def test_the_search_narrows_marketo_fields(admin_client, marketo_fake):
    content = text_of(admin_client.get(reverse(INDEX), {"q": "revenue"}))
    assert 'data-available-field="annualRevenue"' in content
    assert 'data-available-field="industry"' not in content


def test_mapping_a_field_from_its_prefilled_form(admin_client, marketo_fake):
    form = admin_client.get(add_url(), {"field": "annualRevenue"})
    assert form.status_code == 200
    initial = form.context["form"].initial
    assert (initial["name"], initial["label"], initial["write_back"]) == (
        "annual_revenue",
        "Annual Revenue",
        True,
    )

    response = admin_client.post(
        add_url(),
        {"field": "annualRevenue", "name": "revenue", "label": "Revenue", "write_back": "on"},
    )
    assert response.status_code == 302
    field = MarketoField.objects.get()
    assert (field.object, field.rest_name, field.name, field.label) == (
        "lead",
        "annualRevenue",
        "revenue",
        "Revenue",
    )
    assert (field.data_type, field.read_only, field.write_back) == ("currency", False, True)
    content = text_of(admin_client.get(reverse(INDEX)))
    people = content[: content.index('data-marketo-object="company"')]
    assert 'data-mapped-field="annualRevenue"' in people
    assert 'data-available-field="annualRevenue"' not in people


def test_unknown_built_in_or_duplicate_fields_cannot_be_mapped(admin_client, marketo_fake):
    assert map_field(admin_client, "noSuchField").status_code == 400
    assert "Marketo has no field" in text_of(map_field(admin_client, "noSuchField"))
    assert map_field(admin_client, "firstName", name="given").status_code == 400
    assert map_field(admin_client, "industry").status_code == 302
    again = map_field(admin_client, "industry", name="sector")
    assert again.status_code == 400 and "mapped already" in text_of(again)
    assert admin_client.get(add_url("opportunity"), {"field": "x"}).status_code == 404
    assert MarketoField.objects.count() == 1


def test_at_most_fifty_fields_per_object(admin_client, marketo_fake):
    MarketoField.objects.bulk_create(
        MarketoField(object="lead", rest_name=f"custom{i}", name=f"custom{i}", label=f"C{i}")
        for i in range(MarketoField.MAX_PER_OBJECT)
    )
    response = map_field(admin_client, "industry")
    assert response.status_code == 400
    assert "At most 50 fields per object" in text_of(response)
    assert not MarketoField.objects.filter(rest_name="industry").exists()
    # The other object has its own 50.
    assert map_field(admin_client, "industry", object_="company").status_code == 302


@pytest.mark.parametrize(
    "name, error",
    [
        ("email", "already a field in dialogues"),
        ("first_name", "already a field in dialogues"),
        ("sector", "already a field in dialogues"),
        ("2nd", "Use letters, digits and _ only"),
        ("has space", "Use letters, digits and _ only"),
        ("straße", "Use letters, digits and _ only"),
        ("", "This field is required"),
    ],
)
def test_names_must_be_identifiers_unlike_any_other_field(admin_client, marketo_fake, name, error):
    mapped(rest_name="industry", name="sector", label="Sector")
    response = map_field(admin_client, "annualRevenue", name=name)
    assert response.status_code == 400
    assert error in text_of(response)
    assert MarketoField.objects.count() == 1


def test_company_names_must_not_shadow_the_company_name(admin_client, marketo_fake):
    response = map_field(admin_client, "industry", object_="company", name="name")
    assert response.status_code == 400
    assert "already a field in dialogues" in text_of(response)
    # The same name as a person field is fine: it reads company.industry.
    mapped(rest_name="industry", name="industry")
    assert map_field(admin_client, "industry", object_="company").status_code == 302


def test_read_only_fields_are_never_written_back(admin_client, marketo_fake):
    form = admin_client.get(add_url(), {"field": "sfdcType"})
    assert "write_back" not in form.context["form"].fields
    assert 'name="write_back"' not in text_of(form)
    response = map_field(admin_client, "sfdcType", name="sfdc_type", write_back="on")
    assert response.status_code == 302
    field = MarketoField.objects.get()
    assert field.read_only is True and field.write_back is False
    edit = reverse("wagtail_dynchat_marketo_fields:edit", args=[field.pk])
    admin_client.post(edit, {"name": "sfdc_type", "label": "Type", "write_back": "on"})
    field.refresh_from_db()
    assert (field.label, field.write_back) == ("Type", False)


def test_editing_a_mapped_field(admin_client, marketo_fake):
    field = mapped()
    edit = reverse("wagtail_dynchat_marketo_fields:edit", args=[field.pk])
    assert admin_client.get(edit).status_code == 200
    response = admin_client.post(edit, {"name": "sector", "label": "Sector"})
    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.name, field.label, field.write_back) == ("sector", "Sector", False)
    assert admin_client.post(edit, {"name": "email", "label": "x"}).status_code == 400
    missing = reverse("wagtail_dynchat_marketo_fields:edit", args=[field.pk + 100])
    assert admin_client.get(missing).status_code == 404


# -- removing a field dialogues use ------------------------------------------------------


def uses_industry(kind):
    """A flow (and audience) that uses the person field ``industry`` in one way."""
    ask = capture("text", "<p>Industry?</p>", "industry" if kind == "capture" else "")
    cards = {
        "capture": [ask],
        "question": [
            question("<p>Sector?</p>", [("Retail", "retail", "")], store_in="industry"),
        ],
        "token": [message('<p>Hi {{ person.industry|"friend" }}</p>')],
        "condition": [condition([rule("person.industry", "is", "Retail")], "end")],
    }[kind]
    return [branch("start", "Start", *cards), branch("end", "End", message("<p>Bye</p>"))]


def delete_url(field):
    return reverse("wagtail_dynchat_marketo_fields:delete", args=[field.pk])


@pytest.mark.parametrize("kind", ["capture", "question", "token", "condition", "audience"])
def test_a_field_live_dialogues_use_cannot_be_removed(admin_client, marketo_fake, pages, kind):
    field = mapped()
    if kind == "audience":
        make(
            uses_industry("token")[1:],
            name="Retail only",
            audience=audience([rule("person.industry", "is", "Retail")]),
        )
    else:
        make_dialogue(uses_industry(kind), name="Retail only")
    make_dialogue(uses_industry("capture"), name="Unpublished", publish=False)

    page = admin_client.get(delete_url(field))
    assert page.status_code == 200 and "Retail only" in text_of(page)
    response = admin_client.post(delete_url(field))
    assert response.status_code == 409
    assert "live dialogues use it: “Retail only”" in text_of(response)
    assert MarketoField.objects.filter(pk=field.pk).exists()
    # The listing says who uses it, drafts included.
    row = text_of(admin_client.get(reverse(INDEX)))
    row = row[row.index('data-mapped-field="industry"') :]
    assert "Retail only" in row[:2000] and "Unpublished" in row[:2000]


def test_a_field_only_drafts_use_can_be_removed_with_a_warning(admin_client, marketo_fake, pages):
    field = mapped()
    make_dialogue(uses_industry("capture"), name="Work in progress", publish=False)
    live = make_dialogue(uses_industry("token")[1:], name="Unrelated")
    assert live.live

    response = admin_client.post(delete_url(field), follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [
        "“Industry” is no longer mapped.",
        "Drafts use it; change them before publishing: “Work in progress”.",
    ]
    assert not MarketoField.objects.exists()


def test_an_unpublished_change_does_not_protect_the_live_version(admin_client, marketo_fake):
    """The live revision decides: a draft that drops the field leaves it in use until published."""
    field = mapped()
    dialogue = make_dialogue(uses_industry("capture"), name="Capture")
    dialogue.flow = uses_industry("token")[1:]
    dialogue.save_revision()
    assert admin_client.post(delete_url(field)).status_code == 409
    Dialogue.objects.get(pk=dialogue.pk).latest_revision.publish()
    assert admin_client.post(delete_url(field)).status_code == 302


def test_renaming_a_field_live_dialogues_use_is_refused(admin_client, marketo_fake):
    field = mapped()
    make_dialogue(uses_industry("capture"), name="Capture")
    edit = reverse("wagtail_dynchat_marketo_fields:edit", args=[field.pk])
    response = admin_client.post(edit, {"name": "sector", "label": "Sector"})
    assert response.status_code == 400
    assert "Live dialogues use “industry”: “Capture”" in text_of(response)
    assert admin_client.post(edit, {"name": "industry", "label": "Sector"}).status_code == 302


def test_a_company_field_in_use_is_found_by_its_company_name(admin_client, marketo_fake):
    field = mapped("company")
    person_field = mapped(rest_name="annualRevenue", name="industry_x", label="Other")
    make_dialogue(
        [branch("start", "Start", message("<p>{{ company.industry }} rocks</p>"))], name="Co"
    )
    assert admin_client.post(delete_url(field)).status_code == 409
    assert admin_client.post(delete_url(person_field)).status_code == 302


# -- field_usage (unit) ------------------------------------------------------------------


def test_names_used_reads_every_place_a_field_can_appear():
    flow = {
        "branches": [
            {
                "key": "start",
                "cards": [
                    {"id": "a", "type": "capture", "field": " industry ", "html": "<p>?</p>"},
                    {"id": "b", "type": "question", "field": "segment", "choices": []},
                    {"id": "c", "type": "meeting", "field": "agent_name", "html": ""},
                    {"id": "d", "type": "message", "html": '<p>{{ person.city|"{x}" }}</p>'},
                    {"id": "e", "type": "message", "html": "<p>{{company.tier}} person.plain</p>"},
                    {"id": "f", "type": "goal", "name": "field", "field": "not_an_input"},
                    {
                        "id": "g",
                        "type": "condition",
                        "audience": {
                            "match": "any",
                            "groups": [
                                {
                                    "match": "all",
                                    "rules": [
                                        {"attribute": "company.size", "operator": "gt"},
                                        {"attribute": "visitor.device", "operator": "is"},
                                    ],
                                }
                            ],
                        },
                    },
                    {"id": "h", "type": "message", "html": "{{ visitor.url }} {{ person. }}"},
                ],
            }
        ]
    }
    top = {"match": "all", "groups": [{"rules": [{"attribute": "person.score", "operator": "gt"}]}]}
    assert field_usage.names_used(flow, top) == {
        "person.industry",
        "person.segment",
        "person.agent_name",
        "person.city",
        "company.tier",
        "company.size",
        "visitor.device",
        "person.score",
    }
    assert field_usage.names_used(None) == set()
    assert field_usage.names_used({"branches": "junk"}, ["x", 3, None]) == set()


def test_qualified_names():
    assert field_usage.qualified_name("lead", "industry") == "person.industry"
    assert field_usage.qualified_name("company", "industry") == "company.industry"


# -- the mapped fields in dialogues ------------------------------------------------------


def test_a_mapped_field_is_an_attribute_a_condition_choice_and_a_capture_target(marketo_fake, db):
    assert "person.revenue" not in get_attributes()
    mapped(rest_name="annualRevenue", name="revenue", label="Revenue", data_type="currency")
    mapped(rest_name="sfdcType", name="crm_type", label="CRM type", data_type="string")
    mapped("company", rest_name="numberOfEmployees", name="size", label="Employees")
    mapped("company", rest_name="createdAt", name="since", label="Since", data_type="date")

    attributes = get_attributes()
    assert (attributes["person.revenue"].type, attributes["person.revenue"].source) == (
        "number",
        "person",
    )
    assert attributes["person.crm_type"].type == "text"
    assert (attributes["company.size"].type, attributes["company.size"].source) == (
        "text",
        "company",
    )
    assert attributes["company.since"].type == "date"
    groups = {str(group): names for group, names in attribute_choices()}
    assert ("person.revenue", "Revenue") in groups["Person"]
    assert ("company.size", "Employees") in groups["Company"]
    assert ("revenue", "Revenue") in person_field_choices()
    assert get_person_fields()["revenue"].kind == "number"


def test_a_capture_into_a_mapped_field_publishes_through_the_dialogue_form(
    admin_client, marketo_fake
):
    flow = [
        branch("start", "Start", capture("text", "<p>Industry?</p>", "industry")),
    ]
    refused = admin_client.post(dialogue_url("add"), dialogue_form(flow, action="publish"))
    assert refused.status_code == 200
    assert "industry" in json.dumps(rendered_flow_errors(refused))
    assert not Dialogue.objects.exists()

    mapped()
    published = admin_client.post(dialogue_url("add"), dialogue_form(flow, action="publish"))
    assert published.status_code == 302
    dialogue = Dialogue.objects.get()
    assert dialogue.live
    assert dialogue.compile_flow()["branches"][0]["cards"][0]["field"] == "industry"


def test_captured_fields_render_as_tokens_and_reach_the_lead(
    chat, pages, marketo_fake, django_capture_on_commit_callbacks
):
    mapped(write_back=True)
    mapped(rest_name="sfdcType", name="crm_type", label="CRM", read_only=True, write_back=False)
    dialogue = make_dialogue(
        [
            branch(
                "start",
                "Start",
                capture("email", "<p>E-mail?</p>", "email"),
                capture("text", "<p>Industry?</p>", "industry"),
                capture("text", "<p>CRM?</p>", "crm_type"),
                message('<p>So, {{ person.industry|"something" }} on {{ person.crm_type }}.</p>'),
            )
        ],
        targets=[(pages["pricing"], "page")],
    )
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        conversation = chat.answer(conversation, "ada@example.com").json()["conversation"]
        conversation = chat.answer(conversation, "Retail").json()["conversation"]
        answered = chat.answer(conversation, "SFDC").json()
    said = [item["html"] for item in answered["items"] if item["kind"] == "message"]
    assert said == ["<p>So, Retail on SFDC.</p>"]
    person = Person.objects.get(email="ada@example.com")
    assert person.attributes == {"industry": "Retail", "crm_type": "SFDC"}

    [lead] = marketo_fake.leads.values()
    assert lead["email"] == "ada@example.com"
    assert lead["industry"] == "Retail"
    assert "sfdcType" not in lead  # read-only in Marketo: never written


def test_company_fields_render_as_tokens(chat, pages, marketo_fake):
    mapped("company")
    shop = Company.objects.create(key="name:shop", name="Shop", attributes={"industry": "Retail"})
    Person.objects.create(email="ada@example.com", company="Shop Ltd", company_record=shop)
    dialogue = make_dialogue(
        [
            branch(
                "start",
                "Start",
                capture("email", "<p>E-mail?</p>", "email"),
                message(
                    "<p>{{ company.name }} in {{ company.industry }}, "
                    '{{ company.size|"any size" }}.</p>'
                ),
            )
        ],
        targets=[(pages["pricing"], "page")],
    )
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    answered = chat.answer(conversation, "ada@example.com").json()
    said = [item["html"] for item in answered["items"] if item["kind"] == "message"]
    assert said == ["<p>Shop Ltd in Retail, any size.</p>"]


def test_lead_records_carry_written_back_mapped_fields(db, settings, marketo_fake):
    mapped(write_back=True)
    mapped(rest_name="leadScore", name="score", label="Score", write_back=False)
    person = Person.objects.create(
        email="ada@example.com", first_name="Ada", attributes={"industry": "Retail", "score": 7}
    )
    assert outbox.lead_record(person, ["industry"]) == {
        "email": "ada@example.com",
        "industry": "Retail",
    }
    assert outbox.lead_record(person, ["email"]) == {
        "email": "ada@example.com",
        "firstName": "Ada",
        "industry": "Retail",
    }
    assert outbox.enqueue_lead(person, ["score"]) is None  # not written back: nothing to send
    assert outbox.enqueue_lead(person, ["industry"]).payload == {
        "email": "ada@example.com",
        "industry": "Retail",
    }


def test_a_company_field_works_in_an_audience_rule(pages, marketo_fake):
    mapped("company")
    retail = Company.objects.create(key="name:shop", name="Shop", attributes={"industry": "Retail"})
    bank = Company.objects.create(key="name:bank", name="Bank", attributes={"industry": "Banks"})
    dialogue = make(
        name="Retail only",
        targets=[(pages["pricing"], "page")],
        audience=audience([rule("company.industry", "is", "Retail")]),
    )

    def browser_of(company):
        person = Person.objects.create(company_record=company)
        visitor = Visitor.objects.create(person=person)
        browser = Browser()
        browser.client.cookies["dynchat_vid"] = visitor.key
        return browser, person

    shopper, person = browser_of(retail)
    assert shopper.offered(pages["pricing"])[0] == dialogue.pk
    assert person_facts(person)["company.industry"] == "Retail"
    banker, _person = browser_of(bank)
    assert banker.offered(pages["pricing"])[0] is None
    nobody, _person = browser_of(None)
    assert nobody.offered(pages["pricing"])[0] is None


def test_changing_the_mapping_refreshes_the_cached_fields(admin_client, marketo_fake):
    map_field(admin_client, "industry", label="Industry")
    assert get_person_fields()["industry"].label == "Industry"
    field = MarketoField.objects.get()
    edit = reverse("wagtail_dynchat_marketo_fields:edit", args=[field.pk])
    admin_client.post(edit, {"name": "industry", "label": "Sector", "write_back": "on"})
    assert get_person_fields()["industry"].label == "Sector"
    assert mapping.mapped_fields("lead")[0]["label"] == "Sector"
    admin_client.post(delete_url(field))
    assert "industry" not in get_person_fields()
    assert mapping.mapped_fields() == []


def test_the_registries_ask_the_database_once(marketo_fake, db, django_assert_num_queries):
    mapped()
    mapping.invalidate()
    with django_assert_num_queries(1):
        get_attributes()
        get_attributes()
        person_field_choices()


# -- permissions, menu and failures ------------------------------------------------------


def sidebar_urls(response):
    return text_of(response).count(reverse(INDEX))


def test_users_without_the_permission_get_403_and_no_menu_item(
    client, django_user_model, marketo_fake
):
    field = mapped()
    user = django_user_model.objects.create_user("editor", password="x")
    editors = Group.objects.create(name="Mapping-less editors")
    editors.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(editors)
    client.force_login(user)
    assert sidebar_urls(client.get(reverse("wagtailadmin_home"))) == 0
    for url in (reverse(INDEX), add_url() + "?field=industry", delete_url(field)):
        assert client.get(url).status_code == 403
    assert client.post(delete_url(field)).status_code == 403
    assert (
        client.post(add_url(), {"field": "leadScore", "name": "s", "label": "s"}).status_code == 403
    )
    assert MarketoField.objects.count() == 1

    editors.permissions.add(Permission.objects.get(codename="change_marketofield"))
    user = django_user_model.objects.get(pk=user.pk)
    client.force_login(user)
    assert sidebar_urls(client.get(reverse("wagtailadmin_home"))) == 1
    assert client.get(reverse(INDEX)).status_code == 200
    assert client.post(delete_url(field)).status_code == 403  # change, not delete


def test_changes_need_csrf(admin_user, marketo_fake):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert (
        client.post(add_url(), {"field": "industry", "name": "i", "label": "I"}).status_code == 403
    )
    assert not MarketoField.objects.exists()


def test_the_menu_item_needs_marketo(admin_client, settings, marketo_fake):
    home = reverse("wagtailadmin_home")
    assert sidebar_urls(admin_client.get(home)) == 1
    settings.WAGTAIL_DYNCHAT = {}
    assert sidebar_urls(admin_client.get(home)) == 0


def test_marketo_down_shows_a_message_and_the_saved_mapping(admin_client, marketo_fake, settings):
    mapped(label="Sector")
    marketo_fake.fail_code("*", "603", message="Access denied", times=10)
    response = admin_client.get(reverse(INDEX))
    assert response.status_code == 200
    content = text_of(response)
    assert "Marketo answered with error 603: Access denied" in content
    assert 'data-mapped-field="industry"' in content and "Sector" in content
    assert describe.lead_catalog().error  # failures are not cached as an empty catalogue
    added = admin_client.post(add_url(), {"field": "leadScore", "name": "s", "label": "s"})
    assert added.status_code == 400 and "603" in text_of(added)

    closed = {"BASE_URL": "http://127.0.0.1:9", "IDENTITY_URL": "http://127.0.0.1:9/identity"}
    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "MARKETO": {**settings.WAGTAIL_DYNCHAT["MARKETO"], **closed},
    }
    caches["default"].clear()  # the token and the describe results
    unreachable = text_of(admin_client.get(reverse(INDEX)))
    assert "Marketo could not be reached" in unreachable


def test_without_marketo_the_saved_mapping_is_still_shown(admin_client, db):
    mapped(label="Sector")
    response = admin_client.get(reverse(INDEX))
    assert response.status_code == 200
    content = text_of(response)
    assert "Marketo is not configured" in content
    assert 'data-mapped-field="industry"' in content


def test_company_fields_come_from_the_lead_describe_when_companies_are_denied(
    admin_client, marketo_fake
):
    marketo_fake.companies_api = "denied"
    content = text_of(admin_client.get(reverse(INDEX)))
    company = content[content.index('data-marketo-object="company"') :]
    assert "Marketo answered with error 603" in company
    assert "Showing the person fields instead" in company
    assert 'data-available-field="industry"' in company
    assert 'data-available-field="numberOfEmployees"' not in company
    assert map_field(admin_client, "industry", object_="company").status_code == 302
    assert MarketoField.objects.get().object == "company"


# -- the fake's Companies API ------------------------------------------------------------


def test_fake_companies_describe_query_and_sync(marketo_fake, db):
    client = MarketoClient()
    [description] = client.get("/rest/v1/companies/describe.json")["result"]
    assert description["idField"] == "id"
    assert description["dedupeFields"] == ["externalCompanyId"]
    assert ["company"] in description["searchableFields"]
    assert {"name": "company", "displayName": "Company Name", "dataType": "string"}.items() <= (
        next(f for f in description["fields"] if f["name"] == "company").items()
    )

    body = {
        "action": "createOrUpdate",
        "dedupeBy": "dedupeFields",
        "input": [
            {"externalCompanyId": "G1", "company": "Google"},
            {"externalCompanyId": "Y1", "company": "Yahoo", "industry": "Media"},
            {"externalCompanyId": "G1", "company": "Again"},
            {"company": "No key"},
            {"externalCompanyId": "X1", "colour": "red"},
        ],
    }
    result = client.post("/rest/v1/companies.json", body)["result"]
    assert [(r["seq"], r["status"]) for r in result] == [
        (0, "created"),
        (1, "created"),
        (2, "skipped"),
        (3, "skipped"),
        (4, "skipped"),
    ]
    assert [r["reasons"][0]["code"] for r in result[2:]] == ["1036", "1003", "1006"]
    updated = client.post(
        "/rest/v1/companies.json", {"input": [{"externalCompanyId": "G1", "industry": "Search"}]}
    )["result"]
    assert updated == [{"seq": 0, "status": "updated", "id": result[0]["id"]}]
    only_new = client.post(
        "/rest/v1/companies.json",
        {"action": "createOnly", "input": [{"externalCompanyId": "G1"}]},
    )["result"]
    assert only_new[0]["reasons"][0]["code"] == "1017"

    found = client.get(
        "/rest/v1/companies.json",
        {"filterType": "externalCompanyId", "filterValues": "G1,Y1", "fields": "company,industry"},
    )["result"]
    assert found == [
        {"seq": 0, "id": result[0]["id"], "company": "Google", "industry": "Search"},
        {"seq": 1, "id": result[1]["id"], "company": "Yahoo", "industry": "Media"},
    ]
    from wagtail_dynchat.marketo.errors import MarketoError

    with pytest.raises(MarketoError) as error:
        client.get("/rest/v1/companies.json", {"filterType": "industry", "filterValues": "x"})
    assert error.value.code == "1003"


def test_fake_companies_are_read_only_with_a_crm_sync(marketo_fake, db):
    marketo_fake.add_company(externalCompanyId="G1", company="Google")
    marketo_fake.companies_api = "read_only"
    client = MarketoClient()
    assert client.get("/rest/v1/companies/describe.json")["result"]
    found = client.get(
        "/rest/v1/companies.json", {"filterType": "company", "filterValues": "Google"}
    )
    assert [company["externalCompanyId"] for company in found["result"]] == ["G1"]
    result = client.post("/rest/v1/companies.json", {"input": [{"externalCompanyId": "G2"}]})
    assert result["result"][0]["reasons"] == [{"code": "1018", "message": "CRM Enabled"}]
    assert len(marketo_fake.companies) == 1


def test_a_field_gone_from_marketo_is_flagged(admin_client, marketo_fake):
    mapped(rest_name="droppedField", name="dropped", label="Dropped")
    mapped(rest_name="industry", name="industry", label="Industry")
    content = text_of(admin_client.get(reverse(INDEX)))
    dropped = content[content.index('data-mapped-field="droppedField"') :]
    assert "Not in Marketo any more" in dropped[:600]
    kept = content[content.index('data-mapped-field="industry"') :]
    assert "Not in Marketo any more" not in kept[:600]


def test_the_company_record_comes_with_the_visitor_mapping_company_fields_adds_no_query(
    pages, marketo_fake
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    retail = Company.objects.create(key="name:shop", name="Shop", attributes={"industry": "Retail"})
    make(
        name="Retail only",
        targets=[(pages["pricing"], "page")],
        audience=audience([rule("company.industry", "is", "Retail")]),
    )
    visitor = Visitor.objects.create(person=Person.objects.create(company_record=retail))
    browser = Browser()
    browser.client.cookies["dynchat_vid"] = visitor.key

    def queries():
        browser.look(pages["pricing"])  # warm the caches
        with CaptureQueriesContext(connection) as captured:
            browser.look(pages["pricing"])
        return len(captured)

    unmapped = queries()
    mapped("company")
    with_mapping = queries()
    # The company record is joined to the visitor's query; the mapping itself is cached.
    assert with_mapping == unmapped

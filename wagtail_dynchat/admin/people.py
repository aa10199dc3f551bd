"""People in the admin: a read-only listing, and each person's page with their conversations,
meetings and goals, and the way to their privacy requests (export, erase).

Nobody adds, edits or deletes people here: they come from the chat and from Marketo, and
deleting one would delete their conversations and events with them, changing past reports.
Erasing (see :mod:`.privacy_requests`) removes what identifies a person and keeps the counts.
"""

from urllib.parse import urlencode

import django_filters
from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.admin_url_finder import AdminURLFinder
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import policy_registry

from ..models import Conversation, ConversationEvent, Meeting, Person, Visitor
from .privacy_requests import can_erase, can_export, privacy_url
from .text_search import words_q

NAMESPACE = "wagtail_dynchat_people"
#: How many conversations, meetings and goals a person's page lists (the newest).
RECENT = 20


def person_url(user, person):
    """The person's admin page, for users allowed to see it ("" otherwise)."""
    if person is None or person.pk is None:
        return ""
    policy = policy_registry.get_by_type(Person)
    if not policy.user_has_permission(user, "view"):
        return ""
    return reverse(f"{NAMESPACE}:inspect", args=[person.pk])


def email_or_anonymous(person):
    return person.email or gettext("Anonymous visitor #%(id)s") % {"id": person.pk}


def full_name(person):
    return " ".join(part for part in (person.first_name, person.last_name) if part)


def company_name(person):
    if person.company:
        return person.company
    return person.company_record.name if person.company_record else ""


class PersonPermissionPolicy(ModelPermissionPolicy):
    """People are read here; the delete permission allows erasing them (a privacy request)."""

    def user_has_permission(self, user, action):
        if action in ("add", "change", "delete"):
            return False
        return super().user_has_permission(user, action)


class PersonFilterSet(WagtailFilterSet):
    known = django_filters.ChoiceFilter(
        label=_("Known or anonymous"),
        choices=[("known", _("Known (with an e-mail address)")), ("anonymous", _("Anonymous"))],
        method="filter_known",
        empty_label=_("All people"),
    )
    company = django_filters.CharFilter(
        label=_("Company"),
        method="filter_company",
        help_text=_("Part of the company's name."),
    )
    has_meetings = django_filters.ChoiceFilter(
        label=_("Meetings"),
        choices=[("yes", _("Has booked meetings")), ("no", _("Has no meetings"))],
        method="filter_has_meetings",
        empty_label=_("All people"),
    )

    class Meta:
        model = Person
        fields = []

    def filter_known(self, queryset, name, value):
        return queryset.filter(email__isnull=value == "anonymous")

    def filter_company(self, queryset, name, value):
        return queryset.filter(
            Q(company__icontains=value) | Q(company_record__name__icontains=value)
        )

    def filter_has_meetings(self, queryset, name, value):
        meetings = Meeting.objects.filter(person=OuterRef("pk"))
        return queryset.filter(Exists(meetings) if value == "yes" else ~Exists(meetings))


class PersonIndexView(IndexView):
    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        return queryset.filter(words_q(self.search_fields, self.search_query))


class PersonInspectView(InspectView):
    template_name = "wagtail_dynchat/admin/person_inspect.html"

    def get_field_display_value(self, field_name, field):
        value = super().get_field_display_value(field_name, field)
        # An en dash for a blank, as the meetings' pages show it.
        return "\u2013" if value is None or value == "" else value

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        person, user = self.object, self.request.user
        conversations = Conversation.objects.filter(
            Q(person=person) | Q(visitor__person=person)
        ).select_related("dialogue")
        policy = policy_registry.get_by_type(Conversation)
        can_see_conversations = policy.user_has_permission(user, "view")

        def transcript_url(conversation):
            if not can_see_conversations:
                return ""
            return reverse("wagtail_dynchat_conversations:inspect", args=[conversation.pk])

        finder = AdminURLFinder(user)
        # As privacy requests find them: booked by the person, or with their address.
        booked = (
            Q(person=person) | Q(email__iexact=person.email) if person.email else Q(person=person)
        )
        meetings = Meeting.objects.filter(booked).select_related("agent__user", "dialogue")
        goals = (
            ConversationEvent.objects.filter(
                conversation__in=conversations.values("pk"), kind=ConversationEvent.GOAL
            )
            .select_related("conversation__dialogue")
            .order_by("-created_at", "-pk")
        )
        visitors = person.visitors.order_by("-last_seen_at")
        context.update(
            person=person,
            attributes=sorted((person.attributes or {}).items()),
            visitors_count=visitors.count(),
            last_seen=visitors.values_list("last_seen_at", flat=True).first(),
            conversations=[
                (conversation, transcript_url(conversation))
                for conversation in conversations.order_by("-started_at")[:RECENT]
            ],
            conversations_count=conversations.count(),
            conversations_url=(
                reverse("wagtail_dynchat_conversations:index")
                + "?"
                + urlencode({"person": person.pk})
                if can_see_conversations
                else ""
            ),
            meetings=[
                (meeting, finder.get_edit_url(meeting))
                for meeting in meetings.order_by("-starts_at")[:RECENT]
            ],
            meetings_count=meetings.count(),
            goals=goals[:RECENT],
            goals_count=goals.count(),
            # Privacy requests go by e-mail address: an anonymous person has none.
            export_url=privacy_url("export", person.email)
            if person.email and can_export(user)
            else "",
            erase_url=privacy_url("erase", person.email)
            if person.email and can_erase(user)
            else "",
        )
        return context


class PersonURLFinder:
    """Links to a person (audit log, other pages) lead to their page, for users who may see it."""

    def __init__(self, user=None):
        self.user = user

    def get_edit_url(self, instance):
        if self.user is None:
            return reverse(f"{NAMESPACE}:inspect", args=[instance.pk])
        return person_url(self.user, instance) or None


class PersonViewSet(ModelViewSet):
    model = Person
    url_prefix = "dynchat/people"
    url_namespace = NAMESPACE
    icon = "user"
    menu_label = _("People")
    menu_order = 210
    index_view_class = PersonIndexView
    inspect_view_class = PersonInspectView
    inspect_view_enabled = True
    copy_view_enabled = False
    url_finder_class = PersonURLFinder
    inspect_view_fields = [
        "email",
        "first_name",
        "last_name",
        "phone",
        "company",
        "job_title",
        "company_record",
        "marketo_id",
        "marketo_synced_at",
        "created_at",
        "updated_at",
    ]
    # Add and edit are refused by the permission policy; a form class is still required.
    form_fields = ["first_name"]
    list_display = [
        TitleColumn(
            "email",
            label=_("E-mail address"),
            accessor=email_or_anonymous,
            url_name=f"{NAMESPACE}:inspect",
            sort_key="email",
        ),
        Column("name", label=_("Name"), accessor=full_name, sort_key="last_name"),
        Column("company", label=_("Company"), accessor=company_name, sort_key="company"),
        DateColumn("created_at", label=_("Created"), sort_key="created_at"),
        DateColumn("last_seen", label=_("Last seen"), sort_key="last_seen"),
    ]
    filterset_class = PersonFilterSet
    search_fields = ["email", "first_name", "last_name"]
    search_backend_name = None
    ordering = ["-created_at"]

    def get_queryset(self, request):
        last_seen = (
            Visitor.objects.filter(person=OuterRef("pk"))
            .order_by("-last_seen_at")
            .values("last_seen_at")[:1]
        )
        return Person.objects.select_related("company_record").annotate(
            last_seen=Subquery(last_seen)
        )

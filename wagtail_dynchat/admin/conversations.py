"""Conversations in the admin: a read-only listing with filters, and each transcript.

The search finds the person (e-mail, name) and what was said (see :mod:`.text_search`).
"""

import django_filters
from django import forms
from django.db.models import Min, Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy

from ..models import Conversation, Dialogue, Person
from .people import person_url
from .text_search import transcript_q, words_q


def source_dialogues():
    """One dialogue per translation group: the first one created, which the others translate."""
    firsts = Dialogue.objects.values("translation_key").annotate(first=Min("pk")).values("first")
    return Dialogue.objects.filter(pk__in=firsts).order_by("name")


class ConversationFilterSet(WagtailFilterSet):
    # Translations count together under their source dialogue, as reports count them.
    dialogue = django_filters.ModelChoiceFilter(
        label=_("Dialogue"),
        queryset=lambda request: source_dialogues(),
        method="filter_dialogue",
        help_text=_("Conversations of the dialogue and of all its translations."),
    )
    # Set by the links on a person's page ("their conversations"), removed with its filter pill.
    person = django_filters.ModelChoiceFilter(
        label=_("Person"),
        queryset=Person.objects.all(),
        widget=forms.HiddenInput,
        method="filter_person",
        help_text=_(
            "Set by the link to a person's conversations on their page (People); remove it "
            "with its button above the listing."
        ),
    )

    class Meta:
        model = Conversation
        fields = ["status"]

    def filter_dialogue(self, queryset, name, value):
        return queryset.filter(dialogue__translation_key=value.translation_key)

    def filter_person(self, queryset, name, value):
        # As privacy requests find them: by the person, or by a browser of theirs.
        return queryset.filter(Q(person=value) | Q(visitor__person=value))


class ConversationPermissionPolicy(ModelPermissionPolicy):
    """Only visitors write conversations; editors may look at them and delete them."""

    def user_has_permission(self, user, action):
        if action in ("add", "change"):
            return False
        return super().user_has_permission(user, action)


class ConversationIndexView(IndexView):
    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        query = words_q(self.search_fields, self.search_query)
        said = transcript_q(self.search_query)
        return queryset.filter(query | said if said is not None else query)


class ConversationInspectView(InspectView):
    template_name = "wagtail_dynchat/admin/conversation_inspect.html"

    def get_person_display_value(self):
        person = self.object.person
        url = person_url(self.request.user, person)
        return format_html('<a href="{}">{}</a>', url, person) if url else person

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["transcript"] = self.object.transcript
        context["events"] = self.object.events.all()
        return context


class ConversationViewSet(ModelViewSet):
    model = Conversation
    # Namespaced, so the package's URLs can't collide with a project's own "conversation" views.
    url_prefix = "dynchat/conversations"
    url_namespace = "wagtail_dynchat_conversations"
    icon = "comment"
    menu_label = _("Conversations")
    menu_order = 200
    index_view_class = ConversationIndexView
    inspect_view_class = ConversationInspectView
    inspect_view_enabled = True
    copy_view_enabled = False
    inspect_view_fields = [
        "dialogue",
        "person",
        "status",
        "score",
        "url",
        "started_at",
        "engaged_at",
        "completed_at",
    ]
    # Add and edit are refused by the permission policy; a form class is still required.
    form_fields = ["status"]
    list_display = [
        # A field name first, so it becomes the title column linking to the transcript.
        "person",
        "dialogue",
        Column("status", label=_("Status"), accessor="get_status_display"),
        Column("language", label=_("Language"), accessor="dialogue.locale"),
        "score",
        DateColumn("started_at", label=_("Started")),
        DateColumn("completed_at", label=_("Completed")),
    ]
    filterset_class = ConversationFilterSet
    search_fields = ["person__email", "person__first_name", "person__last_name"]
    search_backend_name = None
    ordering = ["-started_at"]

    def get_queryset(self, request):
        return Conversation.objects.select_related("person", "dialogue__locale")

"""Conversations in the admin: a read-only listing with filters, and each transcript."""

import django_filters
from django.db.models import Min
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy

from ..models import Conversation, Dialogue


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

    class Meta:
        model = Conversation
        fields = ["status"]

    def filter_dialogue(self, queryset, name, value):
        return queryset.filter(dialogue__translation_key=value.translation_key)


class ConversationPermissionPolicy(ModelPermissionPolicy):
    """Only visitors write conversations; editors may look at them and delete them."""

    def user_has_permission(self, user, action):
        if action in ("add", "change"):
            return False
        return super().user_has_permission(user, action)


class ConversationInspectView(InspectView):
    template_name = "wagtail_dynchat/admin/conversation_inspect.html"

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

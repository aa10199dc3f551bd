"""The Dialogues snippet viewset, with "start from a template" on creation."""

from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.ui.tables import Column, LiveStatusTagColumn, UpdatedAtColumn
from wagtail.admin.utils import set_query_params
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.snippets.views.snippets import CreateView, EditView, InspectView, SnippetViewSet

from .. import summaries
from ..snippets.blueprints import BLUEPRINTS
from ..snippets.models import Dialogue, DialogueTarget

MENU_HOOK = "register_dynchat_menu_item"


class ChooseStartView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """Lets editors start a dialogue blank or from one of the blueprints."""

    permission_required = "add"
    template_name = "wagtail_dynchat/admin/choose_start.html"
    page_title = _("New dialogue")
    header_icon = "comment"
    # Set by the viewset; the model is what PermissionCheckedMixin finds the policy by.
    model = None
    add_url_name = None
    index_url_name = None

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {
                "url": reverse(self.index_url_name),
                "label": capfirst(self.model._meta.verbose_name_plural),
            },
            {"url": "", "label": self.page_title},
        ]

    def get_context_data(self, **kwargs):
        add_url = reverse(self.add_url_name)
        # The listing passes its locale on, so the new dialogue is created in that locale.
        locale = self.request.GET.get("locale") or None
        return super().get_context_data(
            blank_url=set_query_params(add_url, {"locale": locale}),
            blueprints=[
                (
                    blueprint,
                    set_query_params(add_url, {"blueprint": blueprint.slug, "locale": locale}),
                )
                for blueprint in BLUEPRINTS.values()
            ],
            **kwargs,
        )


class DialogueCreateView(CreateView):
    def get_initial_form_instance(self):
        instance = super().get_initial_form_instance()
        blueprint = BLUEPRINTS.get(self.request.GET.get("blueprint", ""))
        if blueprint is not None:
            instance = blueprint.apply(instance or self.model())
        return instance


def _report_buttons(view):
    # Imported here: the report's module reads the reports layer, which imports the models.
    from .dialogue_report import header_buttons

    return header_buttons(view.object, view.request.user)


class DialogueEditView(EditView):
    def get_header_more_buttons(self):
        return sorted([*super().get_header_more_buttons(), *_report_buttons(self)])


class DialogueInspectView(InspectView):
    """Shows the flow as an outline of branches and cards rather than raw block values."""

    def get_header_more_buttons(self):
        return sorted([*super().get_header_more_buttons(), *_report_buttons(self)])

    def get_flow_display_value(self):
        return render_to_string(
            "wagtail_dynchat/admin/flow_outline.html",
            {"branches": self.object.compile_flow()["branches"]},
        )

    def get_targets_display_value(self):
        return render_to_string(
            "wagtail_dynchat/admin/targets.html",
            {"targets": self.object.targets.select_related("page")},
        )

    def get_field_label(self, field_name, field):
        if field_name == "targets":
            return capfirst(DialogueTarget._meta.verbose_name_plural)
        return super().get_field_label(field_name, field)


class DialogueViewSet(SnippetViewSet):
    model = Dialogue
    icon = "comment"
    menu_label = _("Dialogues")
    menu_hook = MENU_HOOK
    menu_order = 100
    add_view_class = DialogueCreateView
    edit_view_class = DialogueEditView
    list_display = [
        "name",
        Column("summary", label=_("Shown"), accessor=summaries.summary),
        Column("priority", label=_("Priority"), sort_key="priority"),
        LiveStatusTagColumn(),
        UpdatedAtColumn(),
    ]
    # Wagtail adds its own locale filter (by language code) to translatable models' listings.
    list_filter = ["live"]
    ordering = ["-priority", "name"]
    inspect_view_enabled = True
    inspect_view_class = DialogueInspectView
    inspect_view_fields = [
        "name",
        "title",
        "description",
        "priority",
        "locale",
        "live",
        "last_published_at",
        "targets",
        "flow",
    ]
    copy_view_enabled = True

    def get_queryset(self, request):
        # The summary column reads targets, page types and URL rules of every row.
        return Dialogue.objects.prefetch_related(
            "targets__page", "page_types", "url_rules"
        ).select_related("site")

    def get_urlpatterns(self):
        return [*super().get_urlpatterns(), path("start/", self.choose_start_view, name="start")]

    @property
    def choose_start_view(self):
        return self.construct_view(
            ChooseStartView,
            add_url_name=self.get_url_name("add"),
            index_url_name=self.get_url_name("list"),
        )

    def get_index_view_kwargs(self, **kwargs):
        # The listing's "Add" button leads to the choice of a blank dialogue or a blueprint.
        return super().get_index_view_kwargs(add_url_name=self.get_url_name("start"), **kwargs)

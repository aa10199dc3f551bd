"""The Dialogues snippet viewset, with "start from a template" on creation."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.ui.tables import Column, LiveStatusTagColumn, UpdatedAtColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.snippets.views.snippets import CreateView, SnippetViewSet

from ..snippets.blueprints import BLUEPRINTS
from ..snippets.models import Dialogue

MENU_HOOK = "register_dynchat_menu_item"


class ChooseStartView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """Lets editors start a dialogue blank or from one of the blueprints."""

    permission_required = "add"
    template_name = "wagtail_dynchat/admin/choose_start.html"
    page_title = _("New dialogue")
    header_icon = "comment"
    add_url_name = None
    index_url_name = None

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse(self.index_url_name), "label": Dialogue._meta.verbose_name_plural},
            {"url": "", "label": self.page_title},
        ]

    def get_context_data(self, **kwargs):
        add_url = reverse(self.add_url_name)
        locale = self.request.GET.get("locale")
        suffix = f"&locale={locale}" if locale else ""
        return super().get_context_data(
            blank_url=add_url + (f"?locale={locale}" if locale else ""),
            blueprints=[
                (blueprint, f"{add_url}?blueprint={blueprint.slug}{suffix}")
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


class DialogueViewSet(SnippetViewSet):
    model = Dialogue
    icon = "comment"
    menu_label = _("Dialogues")
    menu_hook = MENU_HOOK
    menu_order = 100
    add_view_class = DialogueCreateView
    list_display = [
        "name",
        Column("priority", label=_("Priority"), sort_key="priority"),
        LiveStatusTagColumn(),
        UpdatedAtColumn(),
    ]
    list_filter = ["live", "locale"]
    search_fields = ["name", "description"]
    ordering = ["-priority", "name"]
    inspect_view_enabled = True
    copy_view_enabled = True

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

"""The Dialogue snippet: a flow of cards plus where it appears."""

import swapper
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import (
    FieldPanel,
    HelpPanel,
    InlinePanel,
    MultiFieldPanel,
    ObjectList,
    PublishingPanel,
    TabbedInterface,
    TitleFieldPanel,
)
from wagtail.fields import StreamField
from wagtail.models import (
    DraftStateMixin,
    LockableMixin,
    Orderable,
    PreviewableMixin,
    RevisionMixin,
    TranslatableMixin,
    WorkflowMixin,
)
from wagtail.search import index

from ..blocks import FlowBlock

swapper.set_app_prefix("wagtailcore", "wagtail")


class Dialogue(
    PreviewableMixin,
    WorkflowMixin,
    DraftStateMixin,
    LockableMixin,
    RevisionMixin,
    TranslatableMixin,
    index.Indexed,
    ClusterableModel,
):
    """A scripted conversation shown to visitors of the pages it targets."""

    name = models.CharField(_("name"), max_length=255)
    title = models.CharField(
        _("chat title"),
        max_length=80,
        blank=True,
        help_text=_("Heading of the chat window that visitors see. Defaults to “Chat with us”."),
    )
    description = models.TextField(_("description"), blank=True)
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=50,
        help_text=_("When several dialogues match a page, the highest priority is shown."),
    )
    flow = StreamField(
        FlowBlock(),
        blank=True,
        verbose_name=_("flow"),
        help_text=_(
            "Branches of cards. The first branch starts the conversation; reaching the end of "
            "any branch completes it."
        ),
    )

    workflow_states = GenericRelation(
        "wagtailcore.WorkflowState",
        content_type_field="base_content_type",
        object_id_field="object_id",
        related_query_name="dynchat_dialogue",
        for_concrete_model=False,
    )
    # The name shows in listings, titles and revisions, so even a draft needs one.
    name.required_on_save = True

    panels = [
        TitleFieldPanel("name"),
        FieldPanel("title"),
        FieldPanel("flow"),
    ]
    settings_panels = [
        FieldPanel("description"),
        FieldPanel("priority"),
        PublishingPanel(),
    ]
    targeting_panels = [
        HelpPanel(
            content=_(
                "The dialogue appears on the pages listed here. Exclusions win over "
                "inclusions, so you can target a section but leave out one of its pages."
            )
        ),
        MultiFieldPanel([InlinePanel("targets", label=_("Page"))], heading=_("Pages")),
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(panels, heading=_("Flow")),
            ObjectList(targeting_panels, heading=_("Targeting")),
            ObjectList(settings_panels, heading=_("Settings")),
        ]
    )

    search_fields = [
        index.SearchField("name"),
        index.AutocompleteField("name"),
        index.SearchField("description"),
        index.FilterField("live"),
        index.FilterField("locale"),
        index.FilterField("translation_key"),
    ]

    class Meta(TranslatableMixin.Meta):
        verbose_name = _("dialogue")
        verbose_name_plural = _("dialogues")

    def __str__(self):
        return self.name

    def compile_flow(self, *, render=True):
        """The engine's JSON for this instance's flow (as held in memory, saved or not)."""
        return self.flow.stream_block.compile(self.flow, render=render)

    def get_preview_template(self, request, mode_name):
        return "wagtail_dynchat/preview/dialogue.html"

    def get_preview_context(self, request, mode_name):
        # Imported here: the preview module imports the models.
        from ..preview import preview_config
        from ..tag import render_config

        context = super().get_preview_context(request, mode_name)
        context["dynchat"] = render_config(preview_config(request, self))
        return context


class DialogueTarget(Orderable):
    """A page a dialogue is shown on (or, with ``exclude``, kept away from)."""

    SCOPE_PAGE = "page"
    SCOPE_DESCENDANTS = "descendants"
    SCOPES = [
        (SCOPE_PAGE, _("This page only")),
        (SCOPE_DESCENDANTS, _("This page and its descendants")),
    ]

    dialogue = ParentalKey(Dialogue, on_delete=models.CASCADE, related_name="targets")
    page = models.ForeignKey(
        swapper.get_model_name("wagtailcore", "Page"),
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("page"),
    )
    scope = models.CharField(_("scope"), max_length=20, choices=SCOPES, default=SCOPE_DESCENDANTS)
    exclude = models.BooleanField(
        _("exclude"),
        default=False,
        help_text=_("Keep the dialogue away from these pages instead of showing it there."),
    )

    panels = [FieldPanel("page"), FieldPanel("scope"), FieldPanel("exclude")]

    class Meta(Orderable.Meta):
        verbose_name = _("target page")
        verbose_name_plural = _("target pages")

    def __str__(self):
        return f"{'-' if self.exclude else '+'} {self.page_id} ({self.scope})"

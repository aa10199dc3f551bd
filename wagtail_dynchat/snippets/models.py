"""The Dialogue snippet: a flow of cards plus where it appears."""

import swapper
from django import forms
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
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
    Locale,
    LockableMixin,
    Orderable,
    PreviewableMixin,
    RevisionMixin,
    TranslatableMixin,
    WorkflowMixin,
)
from wagtail.search import index

from ..blocks import AudienceBlock, FlowBlock
from ..blocks.triggers import TriggersBlock
from .forms import DialogueForm

swapper.set_app_prefix("wagtailcore", "wagtail")


def page_content_types():
    """Limits the page-type choice to page models (evaluated when a form is built)."""
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import get_page_models

    return models.Q(pk__in=[ContentType.objects.get_for_model(m).pk for m in get_page_models()])


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
    slug = models.SlugField(
        _("slug"),
        max_length=80,
        blank=True,
        help_text=_(
            'Opens this dialogue from a link (href="#dynchat:<slug>"), from JavaScript '
            '(dynchat.open("<slug>")) and in inline embeds. Unique per language.'
        ),
    )
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
    triggers = StreamField(
        TriggersBlock(),
        blank=True,
        default=[("immediately", {})],
        verbose_name=_("triggers"),
        help_text=_(
            "When the chat button appears: the first of these that happens. With none, the "
            "dialogue only opens from links, inline embeds and the JavaScript API."
        ),
    )
    audience = StreamField(
        [("audience", AudienceBlock())],
        blank=True,
        max_num=1,
        verbose_name=_("audience"),
        help_text=_("Show the dialogue only to visitors matching these rules; empty is everyone."),
    )
    page_types = ParentalManyToManyField(
        "contenttypes.ContentType",
        blank=True,
        limit_choices_to=page_content_types,
        related_name="+",
        verbose_name=_("page types"),
        help_text=_("Show on every page of these types, wherever they are in the tree."),
    )
    site = models.ForeignKey(
        "wagtailcore.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("only on site"),
        help_text=_(
            "Show the dialogue on this site only, whatever its pages, page types and URL rules say."
        ),
    )
    locale_fallback = models.BooleanField(
        _("show where there is no translation"),
        default=False,
        help_text=_(
            "On pages in a language this dialogue has no live translation for, show it as it is."
        ),
    )
    repeat = models.BooleanField(
        _("repeat"),
        default=False,
        help_text=_("Offer the dialogue again, from the start, to visitors who completed it."),
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
    marketo_program_id = models.PositiveIntegerField(
        _("Marketo program id"),
        null=True,
        blank=True,
        help_text=_("Add people who take part in this dialogue to this Marketo program."),
    )
    marketo_status_engaged = models.CharField(
        _("status when engaged"),
        max_length=100,
        blank=True,
        help_text=_("Program status for people who answer the first card; blank: don't add."),
    )
    marketo_status_completed = models.CharField(
        _("status when completed"),
        max_length=100,
        blank=True,
        help_text=_("Program status for people who reach the end; blank: don't add."),
    )
    marketo_status_goal = models.CharField(
        _("status when a goal is reached"),
        max_length=100,
        blank=True,
        help_text=_("Program status for people who reach a goal card; blank: don't add."),
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
        TitleFieldPanel("name", targets=["slug"]),
        FieldPanel("title"),
        FieldPanel("flow"),
    ]
    settings_panels = [
        FieldPanel("slug"),
        FieldPanel("description"),
        FieldPanel("priority"),
        FieldPanel("repeat"),
        MultiFieldPanel(
            [
                FieldPanel("marketo_program_id"),
                FieldPanel("marketo_status_engaged"),
                FieldPanel("marketo_status_completed"),
                FieldPanel("marketo_status_goal"),
            ],
            heading=_("Marketo program"),
            help_text=_(
                "Statuses must exist in the program's channel (Marketo ignores unknown ones and "
                "never moves a member back to an earlier status)."
            ),
        ),
        PublishingPanel(),
    ]
    targeting_panels = [
        HelpPanel(
            content=_(
                "The dialogue appears on the pages listed here, on pages of the chosen types and "
                "on addresses matching the URL rules. Exclusions win over inclusions, so you can "
                "target a section but leave out one of its pages."
            )
        ),
        MultiFieldPanel([InlinePanel("targets", label=_("Page"))], heading=_("Pages")),
        FieldPanel("page_types", widget=forms.CheckboxSelectMultiple),
        MultiFieldPanel(
            [InlinePanel("url_rules", label=_("URL rule"))],
            heading=_("URL rules"),
            help_text=_(
                "Addresses with * wildcards, such as https://*.example.com/folder/* or "
                "/events/*. Use them for pages outside the page tree."
            ),
        ),
        FieldPanel("site"),
        FieldPanel("locale_fallback"),
    ]
    audience_panels = [FieldPanel("audience")]
    triggers_panels = [FieldPanel("triggers")]
    edit_handler = TabbedInterface(
        [
            ObjectList(panels, heading=_("Flow")),
            ObjectList(targeting_panels, heading=_("Targeting")),
            ObjectList(audience_panels, heading=_("Audience")),
            ObjectList(triggers_panels, heading=_("Triggers")),
            ObjectList(settings_panels, heading=_("Settings")),
        ]
    )

    base_form_class = DialogueForm

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
        constraints = [
            models.UniqueConstraint(
                fields=["slug", "locale"],
                condition=~models.Q(slug=""),
                name="dynchat_dialogue_unique_slug",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        # The slug's uniqueness involves the locale, which is not on the form, so Django's own
        # constraint validation skips it; without this the database would refuse the save.
        locale_id = self.locale_id or Locale.get_default().pk
        if (
            self.slug
            and Dialogue.objects.filter(slug=self.slug, locale_id=locale_id)
            .exclude(pk=self.pk)
            .exists()
        ):
            raise ValidationError({"slug": _("Another dialogue in this language has this slug.")})

    def copy_for_translation(self, locale, exclude_fields=None):
        """A translation starts as an unpublished draft, whatever the original's state.

        Wagtail's copy keeps ``live`` and the original's live revision, so the untranslated copy
        would be shown on pages of the new language at once, pinned to the original's flow.
        """
        translation = super().copy_for_translation(locale, exclude_fields=exclude_fields)
        translation.live = False
        translation.has_unpublished_changes = True
        translation.live_revision = None
        translation.first_published_at = None
        translation.last_published_at = None
        return translation

    def compile_audience(self):
        """The audience rules as the engine reads them (None: everyone)."""
        for child in self.audience:
            return child.block.compile(child.value)
        return None

    def compile_flow(self, *, render=True):
        """The engine's JSON for this instance's flow (as held in memory, saved or not)."""
        return self.flow.stream_block.compile(self.flow, render=render)

    @property
    def preview_modes(self):
        # Imported here: the preview module imports the models.
        from ..preview import preview_modes

        return preview_modes(self)

    def get_preview_template(self, request, mode_name):
        return "wagtail_dynchat/preview/dialogue.html"

    def get_preview_context(self, request, mode_name):
        from .. import engine
        from ..attributes import attribute_labels
        from ..preview import preview_config, sample_visitor
        from ..tag import render_config

        context = super().get_preview_context(request, mode_name)
        sample = sample_visitor(request, self, mode_name)
        context["dynchat"] = render_config(preview_config(request, self, mode_name, sample))
        _person, facts, _page = sample
        audience = self.compile_audience()
        context.update(
            mode_label=dict(self.preview_modes).get(mode_name, ""),
            audience_summary=engine.summarise(audience, attribute_labels()),
            audience_matches=engine.evaluate(audience, facts),
        )
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


class DialogueURLRule(Orderable):
    """An address pattern a dialogue is shown on (or, with ``exclude``, kept away from)."""

    dialogue = ParentalKey(Dialogue, on_delete=models.CASCADE, related_name="url_rules")
    pattern = models.CharField(
        _("pattern"),
        max_length=500,
        help_text=_(
            "* matches anything. With a scheme and host (https://*.example.com/shop/*) the whole "
            "address is compared; starting with / only the path is."
        ),
    )
    exclude = models.BooleanField(_("exclude"), default=False)

    panels = [FieldPanel("pattern"), FieldPanel("exclude")]

    class Meta(Orderable.Meta):
        verbose_name = _("URL rule")
        verbose_name_plural = _("URL rules")

    def __str__(self):
        return f"{'-' if self.exclude else '+'} {self.pattern}"

    def clean(self):
        from ..url_rules import check_pattern

        super().clean()
        problem = check_pattern(self.pattern)
        if problem:
            raise ValidationError({"pattern": problem})

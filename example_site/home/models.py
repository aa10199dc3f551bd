"""Page models of the example site: a home page, standard pages and a blog.

The content is deliberately image-free so the demo needs no media files and a fresh database
renders completely.
"""

from django.db import models
from django.utils import timezone
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from wagtail_dynchat.blocks import DialogueEmbedBlock

# Headings come from the heading block, so rich text stays at paragraph level and the page
# outline (h1 title, h2 headings) cannot be broken from inside a paragraph.
PARAGRAPH_FEATURES = ["bold", "italic", "link", "ol", "ul"]


class CallToActionBlock(blocks.StructBlock):
    """A prominent link to another page of the site."""

    label = blocks.CharBlock(max_length=60, help_text="The button text, e.g. “See pricing”.")
    page = blocks.PageChooserBlock()

    class Meta:
        icon = "link"
        template = "home/blocks/call_to_action.html"


class PlanBlock(blocks.StructBlock):
    """One plan card on the pricing page."""

    name = blocks.CharBlock(max_length=40)
    price = blocks.CharBlock(max_length=40, help_text="As shown, e.g. “$49 / month”.")
    features = blocks.ListBlock(blocks.CharBlock(max_length=120))

    class Meta:
        icon = "tag"


class BodyBlock(blocks.StreamBlock):
    """The content blocks shared by every page type."""

    heading = blocks.CharBlock(
        max_length=120, form_classname="title", template="home/blocks/heading.html"
    )
    paragraph = blocks.RichTextBlock(features=PARAGRAPH_FEATURES)
    call_to_action = CallToActionBlock()
    plans = blocks.ListBlock(PlanBlock(), icon="list-ul", template="home/blocks/plans.html")
    chat = DialogueEmbedBlock()


class BasePage(Page):
    """Fields and editing panels common to the site's pages."""

    intro = models.TextField(blank=True, help_text="A short lead paragraph shown under the title.")
    body = StreamField(BodyBlock(), blank=True)

    search_fields = [
        *Page.search_fields,
        index.SearchField("intro"),
        index.SearchField("body"),
    ]
    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]

    class Meta:
        abstract = True


class HomePage(BasePage):
    """The root page of the site."""

    # Only one home page per parent, but not max_count = 1: translations are HomePages too.
    max_count_per_parent = 1
    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["home.StandardPage", "home.BlogIndexPage"]


class StandardPage(BasePage):
    """A general content page, such as Pricing or Contact."""

    parent_page_types = ["home.HomePage", "home.StandardPage"]
    subpage_types = ["home.StandardPage"]


class BlogIndexPage(Page):
    """Lists the blog posts below it, newest first."""

    intro = models.TextField(blank=True, help_text="Shown above the list of posts.")

    search_fields = [*Page.search_fields, index.SearchField("intro")]
    content_panels = [*Page.content_panels, FieldPanel("intro")]

    max_count_per_parent = 1
    parent_page_types = ["home.HomePage"]
    subpage_types = ["home.BlogPage"]

    def get_posts(self):
        """Return the live, publicly visible posts below this page, newest first."""
        return (
            BlogPage.objects.child_of(self)
            .live()
            .public()
            .order_by("-date", "-first_published_at", "-pk")
        )

    def get_context(self, request, *args, **kwargs):
        """Add the posts to the template context."""
        context = super().get_context(request, *args, **kwargs)
        context["posts"] = self.get_posts()
        return context


class BlogPage(BasePage):
    """A blog post."""

    date = models.DateField("post date", default=timezone.localdate)

    search_fields = [*BasePage.search_fields, index.FilterField("date")]
    content_panels = [
        *Page.content_panels,
        FieldPanel("date"),
        FieldPanel("intro"),
        FieldPanel("body"),
    ]

    parent_page_types = ["home.BlogIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = "blog post"

"""Load the example site's demo content: the page tree, the Site, an admin user and three
dialogues made from the package's blueprints.

Idempotent: every object is looked up by a stable key (the page's slug under its parent, the
username) and only saved when it differs from the demo content, so a second run creates no
duplicates and no new revisions.
"""

import datetime
import io
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.images import ImageFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from wagtail.blocks import StreamValue
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.images import get_image_model
from wagtail.models import Locale, Page, Site

from example_site.home.demo_history import play_history
from example_site.home.models import BlogIndexPage, BlogPage, HomePage, StandardPage
from wagtail_dynchat.models import ChatSettings, Dialogue, DialogueTarget
from wagtail_dynchat.snippets.blueprints import BLUEPRINTS

SITE_URL = "http://127.0.0.1:8000/"
ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "dynchat-demo"
SITE_NAME = "Acme Analytics"
NEWSLETTER_SLUG = "newsletter-sign-up"

# The page a fresh `migrate` creates (wagtailcore 0002_initial_data): a plain Page at depth 2.
WAGTAIL_WELCOME_SLUG = "home"
HOME_SLUG = "acme-analytics"

Log = Callable[[str], None]


def _paragraph(html: str) -> dict:
    return {"type": "paragraph", "value": html}


def _heading(text: str) -> dict:
    return {"type": "heading", "value": text}


def _call_to_action(label: str, page: Page) -> dict:
    return {"type": "call_to_action", "value": {"label": label, "page": page.pk}}


PLANS = [
    {
        "name": "Starter",
        "price": "Free",
        "features": [
            "Up to 10,000 events a month",
            "Funnels and retention charts",
            "30 days of data history",
            "Community support",
        ],
    },
    {
        "name": "Growth",
        "price": "$49 / month",
        "features": [
            "Up to 1 million events a month",
            "User paths and cohorts",
            "12 months of data history",
            "Email support within one business day",
        ],
    },
    {
        "name": "Enterprise",
        "price": "Custom pricing",
        "features": [
            "Unlimited events",
            "Single sign-on and audit logs",
            "Data warehouse export",
            "A named customer success manager",
        ],
    },
]

POSTS = [
    {
        "slug": "five-metrics-that-predict-retention",
        "title": "Five product metrics that actually predict retention",
        "date": datetime.date(2025, 3, 4),
        "intro": "Page views and sign-ups look good on a dashboard. These five numbers tell you "
        "whether people will still be using your product in three months.",
        "body": [
            _paragraph(
                "<p>Most teams track what is easy to count. Retention, though, is driven by a "
                "handful of behaviours that happen in the first days of a customer's life.</p>"
            ),
            _heading("Start with time to first value"),
            _paragraph(
                "<p>Measure how long a new user takes to reach the moment your product is "
                "built for: the first report shared, the first dashboard saved. Shorten it and "
                "week-four retention follows.</p>"
            ),
            _heading("The other four"),
            _paragraph(
                "<ol><li><b>Activation rate</b>: the share of sign-ups who reach that moment."
                "</li><li><b>Weekly active teams</b>, not users: analytics is a team sport.</li>"
                "<li><b>Feature breadth</b>: accounts that use three or more features churn "
                "far less.</li><li><b>Return rate</b>: how many users come back within seven "
                "days of their first session.</li></ol>"
            ),
        ],
    },
    {
        "slug": "funnels-vs-paths",
        "title": "Funnels vs. paths: choosing the right view of user journeys",
        "date": datetime.date(2025, 4, 15),
        "intro": "Funnels answer “how many made it?”, paths answer “where did everyone else "
        "go?”. Here is when to reach for each.",
        "body": [
            _paragraph(
                "<p>A funnel measures conversion through steps you define in advance. It is "
                "the right tool when the journey is known, such as checkout or onboarding.</p>"
            ),
            _heading("When the journey is unknown"),
            _paragraph(
                "<p>Paths show the sequences users actually take, including the detours. Use "
                "them to find the step you did not think of, then turn it into a funnel and "
                "track it every week.</p>"
            ),
        ],
    },
    {
        "slug": "instrumenting-events-without-drowning-in-data",
        "title": "Instrumenting events without drowning in data",
        "date": datetime.date(2025, 5, 20),
        "intro": "More events do not mean more insight. A short tracking plan keeps your data "
        "trustworthy and your charts fast.",
        "body": [
            _paragraph(
                "<p>Before adding an event, write down the question it answers. If nobody can "
                "name one, skip it: every event has to be named, documented and kept "
                "working.</p>"
            ),
            _heading("A tracking plan in three rules"),
            _paragraph(
                "<ul><li>Name events as <i>object + past-tense verb</i>: “Report Shared”."
                "</li><li>Put detail in properties, not in new event names.</li><li>Review the "
                "plan whenever a feature ships, and retire events nobody queries.</li></ul>"
            ),
        ],
    },
]


def _without_ids(data):
    """Drop the block ids Wagtail generates, so stored and new content compare by value."""
    if isinstance(data, dict):
        return {key: _without_ids(value) for key, value in data.items() if key != "id"}
    if isinstance(data, list):
        return [_without_ids(item) for item in data]
    return data


def _normalized(page: Page, name: str, value):
    field = page._meta.get_field(name)
    # Raw StreamField data (a list of dicts) must become a StreamValue to compare as stored.
    if not isinstance(value, StreamValue):
        value = field.to_python(value)
    return _without_ids(field.get_prep_value(value))


def _upsert_page(parent: Page, model: type[Page], slug: str, log: Log, **fields) -> Page:
    """Create the ``model`` page called ``slug`` under ``parent``, or update it to ``fields``."""
    existing = Page.objects.child_of(parent).filter(slug=slug).first()
    if existing is None:
        page = model(slug=slug, **fields)
        parent.add_child(instance=page)
        page.save_revision().publish()
        log(f"  created {model.__name__} {page.url_path!r}")
        return page

    page = existing.specific
    if not isinstance(page, model):
        raise CommandError(
            f"The page {existing.url_path!r} is a {type(page).__name__}, not a "
            f"{model.__name__}; move or delete it and run the command again."
        )
    return _update_page(page, log, **fields)


def _update_page(page: Page, log: Log, **fields) -> Page:
    """Publish ``fields`` on ``page`` unless they are already live.

    The page is also published when it is not live or has a draft: the demo content always
    wins, and nothing at all is saved when it is already in place.
    """
    changed = [
        name
        for name, value in fields.items()
        if _normalized(page, name, value) != _normalized(page, name, getattr(page, name))
    ]
    kind = type(page).__name__
    if changed or not page.live or page.has_unpublished_changes:
        for name, value in fields.items():
            setattr(page, name, value)
        page.save_revision().publish()
        log(f"  updated {kind} {page.url_path!r} ({', '.join(changed) or 'published'})")
    else:
        log(f"  unchanged {kind} {page.url_path!r}")
    return page


def _newsletter_embed() -> list:
    """The newsletter dialogue embedded inline, once the demo dialogues exist."""
    newsletter = Dialogue.objects.filter(slug=NEWSLETTER_SLUG, live=True).first()
    if newsletter is None:
        return []
    return [
        _heading("Get our monthly tips"),
        {
            "type": "chat",
            "value": {
                "dialogue": newsletter.pk,
                "fallback": "Write to hello@acme.example to join the newsletter.",
            },
        },
    ]


def _ensure_default_locale(log: Log) -> Locale:
    language_code = get_supported_content_language_variant(settings.LANGUAGE_CODE)
    locale, created = Locale.objects.get_or_create(language_code=language_code)
    if created:
        log(f"  created locale {language_code!r}")
    return locale


def _point_default_site_at(home: HomePage, log: Log) -> Site:
    # Keep the hostname and port of an existing site: the default site answers every host.
    site = (
        Site.objects.filter(is_default_site=True).first()
        or Site.objects.order_by("pk").first()
        or Site(hostname="localhost", port=80)
    )
    desired = {"root_page_id": home.pk, "is_default_site": True, "site_name": SITE_NAME}
    if site.pk is None or any(getattr(site, key) != value for key, value in desired.items()):
        for key, value in desired.items():
            setattr(site, key, value)
        site.save()
        log(f"  default site {site.hostname}:{site.port} now serves {home.title!r}")
    return site


def _delete_wagtail_welcome_page(root: Page, log: Log) -> None:
    # Only the untouched placeholder goes: a plain Page, no children and no site rooted there.
    page_type = ContentType.objects.get_for_model(Page)
    welcome_pages = Page.objects.child_of(root).filter(
        slug=WAGTAIL_WELCOME_SLUG,
        content_type=page_type,
        numchild=0,
        sites_rooted_here__isnull=True,
    )
    for page in welcome_pages:
        log(f"  deleted Wagtail's placeholder page {page.title!r}")
        page.delete()


def _demo_avatar():
    """A 200 px square avatar drawn on the spot (a speech bubble on a green disc), saved."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (200, 200), "#ffffff")
    draw = ImageDraw.Draw(picture)
    draw.ellipse((0, 0, 199, 199), fill="#0b6e4f")
    draw.rounded_rectangle((50, 58, 150, 128), radius=18, fill="#ffffff")
    draw.polygon([(72, 124), (72, 150), (98, 124)], fill="#ffffff")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    image = get_image_model()(title="Ava, the demo chatbot")
    image.file = ImageFile(buffer, name="ava.png")
    image.save()
    return image


def create_demo_pages(log: Log | None = None) -> dict:
    """Create or update the demo page tree and point the default Site at it.

    Returns the pages by role: ``{"home", "pricing", "blog", "posts", "contact"}``, where
    ``posts`` is the list of blog posts, newest first. ``log`` receives a line per object.
    """
    log = log or (lambda message: None)
    locale = _ensure_default_locale(log)
    root = Page.get_first_root_node()

    home = HomePage.objects.child_of(root).filter(locale=locale).first()
    home_fields = {
        "title": SITE_NAME,
        "intro": "Product analytics that tells you why users stay, not just how many came.",
        "show_in_menus": False,
    }
    if home is None:
        # Body links need the child pages, so the body is filled in once they exist.
        home = _upsert_page(root, HomePage, HOME_SLUG, log, locale=locale, **home_fields)

    pricing = _upsert_page(
        home,
        StandardPage,
        "pricing",
        log,
        title="Pricing",
        show_in_menus=True,
        intro="Simple plans that grow with your product. Every plan includes unlimited "
        "dashboards and seats.",
        body=[
            _heading("Choose a plan"),
            {"type": "plans", "value": PLANS},
            _paragraph(
                "<p>All prices exclude VAT. Annual billing saves two months. Not sure which "
                "plan fits? Ask the assistant in the corner or get in touch.</p>"
            ),
        ],
    )
    blog = _upsert_page(
        home,
        BlogIndexPage,
        "blog",
        log,
        title="Blog",
        show_in_menus=True,
        intro="Notes on product analytics from the Acme team.",
    )
    contact = _upsert_page(
        home,
        StandardPage,
        "contact",
        log,
        title="Contact",
        show_in_menus=True,
        intro="Questions about plans, a demo for your team or help with your account: we "
        "answer within one business day.",
        body=[
            _heading("Sales"),
            _paragraph(
                '<p>Email <a href="mailto:sales@acme.example">sales@acme.example</a> or book '
                "a 30-minute demo through the assistant on this page.</p>"
            ),
            _heading("Support"),
            _paragraph(
                '<p>Customers can reach us at <a href="mailto:support@acme.example">'
                "support@acme.example</a>, Monday to Friday, 9:00 to 17:00 CET.</p>"
            ),
            _heading("Office"),
            _paragraph("<p>Acme Analytics GmbH, Beispielstraße 1, 10115 Berlin, Germany</p>"),
        ],
    )
    posts = [
        _upsert_page(
            blog,
            BlogPage,
            post["slug"],
            log,
            title=post["title"],
            date=post["date"],
            intro=post["intro"],
            body=post["body"],
        )
        for post in POSTS
    ]
    posts.sort(key=lambda post: post.date, reverse=True)

    home = _update_page(
        home,
        log,
        **home_fields,
        body=[
            _heading("Understand every step of the customer journey"),
            _paragraph(
                "<p>Acme Analytics turns raw product events into answers: which features "
                "drive retention, where new users get stuck and which accounts are ready to "
                "grow. Set-up takes an afternoon, and you own your data.</p>"
            ),
            _call_to_action("See pricing", pricing),
            _heading("Learn from the team"),
            _paragraph(
                "<p>Our blog covers metrics that matter, funnel analysis and tracking plans "
                "that stay clean.</p>"
            ),
            _call_to_action("Read the blog", blog),
            _call_to_action("Talk to us", contact),
            *_newsletter_embed(),
        ],
    )

    _point_default_site_at(home, log)
    _delete_wagtail_welcome_page(root, log)
    return {"home": home, "pricing": pricing, "blog": blog, "posts": posts, "contact": contact}


class Command(BaseCommand):
    help = (
        "Create or update the example site's demo pages, point the default site at them and "
        "create the 'admin' superuser. Safe to run again."
    )

    def add_arguments(self, parser):
        """Add ``--admin-password``."""
        parser.add_argument(
            "--admin-password",
            default=DEFAULT_ADMIN_PASSWORD,
            help=f"Password of the '{ADMIN_USERNAME}' superuser (default: %(default)s).",
        )
        parser.add_argument(
            "--history",
            action="store_true",
            help="Also play 30 days of visitors through the chat, so the reports show numbers "
            "(once, while there are no conversations).",
        )

    def handle(self, *args, **options):
        """Load everything in one transaction, so a failure leaves the database as it was."""
        self.verbosity = options["verbosity"]
        password = options["admin_password"]
        if not password:
            raise CommandError("--admin-password must not be empty.")

        with transaction.atomic():
            pages = create_demo_pages(log=self.log_detail)
            self.ensure_admin(password)
            self.load_dialogues(pages)
            self.load_chat_settings(pages["home"].get_site())
            # Again, now that the dialogues exist: the home page embeds one of them.
            create_demo_pages(log=self.log_detail)
        if options["history"]:
            play_history(log=self.stdout.write if self.verbosity >= 1 else self.log_detail)

        if self.verbosity >= 1:
            # Only the documented demo password is ever echoed.
            shown = password if password == DEFAULT_ADMIN_PASSWORD else "(as given)"
            self.stdout.write(self.style.SUCCESS(f"Demo site ready: {SITE_URL}"))
            self.stdout.write(
                f"Wagtail admin:   {SITE_URL}admin/   user: {ADMIN_USERNAME}   password: {shown}"
            )

    def log_detail(self, message: str) -> None:
        """Write a line about one created or changed object, at ``--verbosity 2`` and up."""
        if self.verbosity >= 2:
            self.stdout.write(message)

    def ensure_admin(self, password: str) -> None:
        """Create the superuser, or restore its flags and password if they were changed."""
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            **{user_model.USERNAME_FIELD: ADMIN_USERNAME},
            defaults={"email": "admin@acme.example"},
        )
        changed = created
        for flag in ("is_active", "is_staff", "is_superuser"):
            if not getattr(user, flag):
                setattr(user, flag, True)
                changed = True
        # check_password, not set_password: re-hashing with a new salt would be a change.
        if not user.check_password(password):
            user.set_password(password)
            changed = True
        if changed:
            user.save()
            self.log_detail(f"  {'created' if created else 'updated'} superuser {ADMIN_USERNAME!r}")
        else:
            self.log_detail(f"  unchanged superuser {ADMIN_USERNAME!r}")

    def load_chat_settings(self, site: Site) -> None:
        """Brand the demo chat (name, avatar, colours), unless an editor has set it up already."""
        if ChatSettings.objects.filter(site=site).exists():
            self.log_detail("  unchanged chat settings")
            return
        ChatSettings.objects.create(
            site=site,
            bot_name="Ava",
            avatar=_demo_avatar(),
            header_bg="#0f3d3e",
            header_text="#ffffff",
            button_bg="#0b6e4f",
            button_text="#ffffff",
            blocked_email_domains="competitor.example",
            blocked_email_message="We'd love to talk to you from your own company's address.",
        )
        self.log_detail("  created chat settings (Ava)")

    def load_dialogues(self, pages: dict) -> None:
        """Create and publish the demo dialogues targeted at ``pages``.

        A dialogue that already exists (by name) is left alone: an editor may have changed it.
        """
        demo = [
            # (blueprint, priority, [(page, scope)], triggers)
            (
                "book-a-demo",
                80,
                [(pages["pricing"], "page"), (pages["contact"], "page")],
                [("immediately", {})],
            ),
            (
                NEWSLETTER_SLUG,
                50,
                [(pages["blog"], "descendants")],
                [("scroll", {"percent": 40}), ("time_on_page", {"seconds": 20})],
            ),
            (
                "qualify-a-visitor",
                60,
                [(pages["home"], "page")],
                [("time_on_page", {"seconds": 4})],
            ),
        ]
        locale = Locale.get_default()
        for slug, priority, targets, triggers in demo:
            blueprint = BLUEPRINTS[slug]
            if Dialogue.objects.filter(name=str(blueprint.name), locale=locale).exists():
                self.log_detail(f"  unchanged dialogue {blueprint.name!s}")
                continue
            dialogue = blueprint.apply(Dialogue(locale=locale, priority=priority, live=False))
            dialogue.targets = [DialogueTarget(page=page, scope=scope) for page, scope in targets]
            dialogue.triggers = triggers
            dialogue.save()
            dialogue.save_revision().publish()
            self.log_detail(f"  created dialogue {blueprint.name!s}")
        if self.verbosity >= 1:
            names = ", ".join(str(BLUEPRINTS[entry[0]].name) for entry in demo)
            self.stdout.write(f"Demo dialogues: {names}")

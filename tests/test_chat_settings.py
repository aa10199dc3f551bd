"""The chat's site settings through the real Wagtail settings form: validation, normalisation,
contrast warnings, the preview, and what the widget and the API then read (per site, cached)."""

from io import BytesIO

import pytest
from django.core.files.images import ImageFile
from django.urls import reverse
from PIL import Image as PILImage
from wagtail.images import get_image_model
from wagtail.models import Site
from wagtail.test.utils import WagtailTestUtils

from wagtail_dynchat import branding, privacy
from wagtail_dynchat.models import ChatSettings

pytestmark = pytest.mark.django_db

# Every field of the form with its default, as the browser would post an untouched form
# (unticked checkboxes are left out).
DEFAULTS = {
    "enabled": True,
    "bot_name": "",
    "avatar": "",
    "position": "right",
    "offset_x": 16,
    "offset_y": 16,
    **dict.fromkeys(branding.COLOUR_FIELDS, ""),
    "font_family": "",
    "response_delay": 600,
    "typing_indicator": True,
    "poke_on_mobile": True,
    "sound": "",
    "scroll_button": True,
    "privacy_url": "",
    "consent_required": False,
    "consent_text": "",
    "honour_dnt_gpc": False,
    "allowed_domains": "",
    "blocked_email_domains": "",
    "blocked_email_message": "",
}


def form_data(**changes):
    data = {**DEFAULTS, **changes}
    return {
        name: ("on" if value is True else value)
        for name, value in data.items()
        if value is not False
    }


def edit_url(site):
    return reverse("wagtailsettings:edit", args=["wagtail_dynchat", "chatsettings", site.pk])


@pytest.fixture
def site(pages):
    return Site.objects.get(is_default_site=True)


@pytest.fixture
def other_site(pages):
    return Site.objects.create(
        hostname="other.example", port=80, root_page=pages["home"], site_name="Other"
    )


def save(client, site, **changes):
    """Post the settings form; the response (a redirect when it saved)."""
    return client.post(edit_url(site), form_data(**changes))


def errors(response):
    """Field name → error messages of the form in a re-rendered response."""
    assert response.status_code == 200, "the form was expected to fail"
    return {name: list(messages) for name, messages in response.context["form"].errors.items()}


def saved(response, site):
    assert response.status_code == 302, errors(response)
    return ChatSettings.objects.get(site=site)


def make_image(width, height, *, name="avatar.png", image_format="PNG"):
    buffer = BytesIO()
    PILImage.new("RGB", (width, height), "#336699").save(buffer, image_format)
    return get_image_model().objects.create(title=name, file=ImageFile(buffer, name=name))


# ---- the form ----------------------------------------------------------------------------------


def test_the_form_has_three_tabs_a_preview_and_colour_pickers(admin_client, site):
    response = admin_client.get(edit_url(site))

    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    # A tab's text ends with its (hidden) error count.
    tabs = [tab.get_text(" ", strip=True).split(" (")[0] for tab in soup.select("[role=tab]")]
    assert tabs == ["Appearance", "Behaviour", "Privacy and security"]
    preview = soup.select_one("[data-dynchat-preview]")
    for selector in (
        ".dynchat .dynchat-launcher",
        ".dynchat .dynchat-panel .dynchat-header .dynchat-avatar",
        ".dynchat-header .dynchat-title",
        ".dynchat-log .dynchat-item.dynchat-bot",
        ".dynchat-log .dynchat-item.dynchat-visitor",
        ".dynchat-choices .dynchat-choice",
    ):
        assert preview.select_one(selector), selector
    # No inline script or style: the admin may run under a strict CSP.
    assert not preview.select("[style]")
    assert not [
        s
        for s in soup.select("script")
        if s.string and "dynchat" in s.string.lower() and s.get("type") != "application/json"
    ]
    scripts = [script.get("src", "") for script in soup.select("script[src]")]
    assert any("wagtail_dynchat/admin/chat_settings.js" in src for src in scripts)
    styles = [link.get("href", "") for link in soup.select("link[rel=stylesheet]")]
    assert any("wagtail_dynchat/widget.css" in href for href in styles)
    assert any("wagtail_dynchat/admin/chat_settings.css" in href for href in styles)
    header_bg = soup.select_one("input[name=header_bg]")
    picker = soup.select_one(f'input[type=color][data-dynchat-colour-picker="{header_bg["id"]}"]')
    assert picker["value"] == "#1f2937"  # blank: the widget's default
    assert not picker.has_attr("name")  # only the text field is submitted
    assert picker["aria-label"] == "Header background: colour picker"


def test_defaults_save_and_match_the_model(admin_client, site):
    settings = saved(save(admin_client, site), site)

    assert settings.position == "right"
    assert settings.response_delay == 600
    assert settings.header_bg == ""
    assert settings.typing_indicator and settings.scroll_button and settings.enabled


# ---- colours and font ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["blue", "#12", "#12345g", "1d4ed8", "#1d4ed"])
def test_an_invalid_colour_is_rejected(admin_client, site, value):
    field_errors = errors(save(admin_client, site, header_bg=value))

    assert field_errors["header_bg"] == [
        "Enter a colour as a hex value such as #1d4ed8 or #fff, or leave it blank."
    ]
    assert not ChatSettings.objects.get(site=site).header_bg


def test_a_too_long_colour_is_rejected(admin_client, site):
    assert errors(save(admin_client, site, header_bg="#1d4ed8ff"))["header_bg"]


def test_colours_are_normalised_to_lowercase_six_digits(admin_client, site):
    settings = saved(
        save(admin_client, site, header_bg="#ABC", bot_text=" #1F2328 ", button_bg="#1d4ed8"),
        site,
    )

    assert settings.header_bg == "#aabbcc"
    assert settings.bot_text == "#1f2328"
    assert settings.button_bg == "#1d4ed8"


def test_a_font_list_is_tidied(admin_client, site):
    settings = saved(save(admin_client, site, font_family="'Open  Sans' ,Arial,sans-serif"), site)

    assert settings.font_family == "'Open Sans', Arial, sans-serif"


@pytest.mark.parametrize(
    "value",
    ["Arial; color: red", "url(x)", "Arial, , serif", "'Open Sans", "Comic_Sans", "a\\62 c"],
)
def test_a_bad_font_is_rejected(admin_client, site, value):
    field_errors = errors(save(admin_client, site, font_family=value))

    assert field_errors["font_family"]
    assert ChatSettings.objects.get(site=site).font_family == ""


def test_offsets_and_delay_are_bounded(admin_client, site):
    field_errors = errors(save(admin_client, site, offset_x=201, response_delay=5001))

    assert set(field_errors) == {"offset_x", "response_delay"}


# ---- contrast warnings -------------------------------------------------------------------------


def contrast_messages(response):
    soup = WagtailTestUtils.get_soup(response.content)
    return {
        region["data-dynchat-contrast"]: region.get_text(" ", strip=True)
        for region in soup.select("[data-dynchat-contrast]")
        if not region.select_one(".help-block").has_attr("hidden")
    }


def test_a_failing_pair_is_warned_about_on_page_load(admin_client, site):
    saved(save(admin_client, site, header_bg="#777777", header_text="#999999"), site)

    messages = contrast_messages(admin_client.get(edit_url(site)))

    assert messages == {
        "header_bg header_text": "Header text on header background: 1.5:1 — below the 4.5:1 "
        "WCAG AA minimum for text."
    }


def test_good_colours_and_the_defaults_get_no_warning(admin_client, site):
    assert contrast_messages(admin_client.get(edit_url(site))) == {}

    saved(save(admin_client, site, header_bg="#000000", header_text="#ffffff"), site)

    assert contrast_messages(admin_client.get(edit_url(site))) == {}


def test_every_pair_has_a_live_region_under_its_fields(admin_client, site):
    soup = WagtailTestUtils.get_soup(admin_client.get(edit_url(site)).content)

    regions = soup.select("[data-dynchat-contrast]")
    assert [region["data-dynchat-contrast"] for region in regions] == [
        f"{background} {foreground}" for background, foreground, _ in branding.CONTRAST_PAIRS
    ]
    for region in regions:
        assert region["role"] == "status"
        # Right after the group holding the pair's text colour field.
        foreground = region["data-dynchat-contrast"].split()[1]
        assert region.find_previous("input", attrs={"name": foreground})
        assert not region.find_previous("input", attrs={"name": "font_family"})


def test_a_visitor_bubble_following_the_button_colour_is_checked_with_it(admin_client, site):
    # The visitor bubble takes the button colours unless set: a pale button makes both fail.
    saved(save(admin_client, site, button_bg="#eeeeee"), site)

    messages = contrast_messages(admin_client.get(edit_url(site)))

    assert set(messages) == {
        "visitor_bg visitor_text",
        "button_bg button_text",
        "panel_bg button_bg",
    }


def test_warnings_do_not_block_saving_and_follow_the_posted_values(admin_client, site):
    response = save(admin_client, site, bot_bg="#ffffff", bot_text="#eeeeee", offset_x=999)

    assert "bot_bg bot_text" in contrast_messages(response)  # re-rendered with the posted values
    settings = saved(save(admin_client, site, bot_bg="#ffffff", bot_text="#eeeeee"), site)
    assert settings.bot_text == "#eeeeee"


# ---- privacy and security ----------------------------------------------------------------------


def test_too_many_blocked_email_domains_are_rejected(admin_client, site):
    domains = "\n".join(f"spam{number}.example" for number in range(51))

    field_errors = errors(save(admin_client, site, blocked_email_domains=domains))

    assert field_errors["blocked_email_domains"] == ["Enter at most 50 domains (51 were given)."]


def test_blocked_email_domains_are_normalised(admin_client, site):
    settings = saved(
        save(
            admin_client,
            site,
            blocked_email_domains="@Gmail.com\n\n gmail.com\nhotmail.com\n",
            blocked_email_message="Please use your work address.",
        ),
        site,
    )

    assert settings.blocked_email_domains == "gmail.com\nhotmail.com"
    assert privacy.policy(site.pk).blocked_email_domains == ("gmail.com", "hotmail.com")
    assert privacy.policy(site.pk).blocked_email_message == "Please use your work address."


def test_a_bad_blocked_email_domain_is_named(admin_client, site):
    field_errors = errors(save(admin_client, site, blocked_email_domains="gmail.com\nlocalhost"))

    assert field_errors["blocked_email_domains"] == [
        "Line 2 (“localhost”) is not a valid e-mail domain. Enter one per line, such as "
        "example.com."
    ]


def test_allowed_domains_are_normalised(admin_client, site):
    settings = saved(
        save(
            admin_client,
            site,
            allowed_domains="https://Example.com/\n*.Example.com\nexample.com\n\nwww.example.org",
        ),
        site,
    )

    assert settings.allowed_domains == "example.com\n*.example.com\nwww.example.org"
    assert privacy.policy(site.pk).allowed_domains == (
        "example.com",
        "*.example.com",
        "www.example.org",
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("exa mple.com", "is not a valid host name"),
        ("example.com:8000", "leave out the port"),
        ("https://example.com/chat", "without a path"),
        ("www.*.example.com", "only allowed at the start"),
        ("-bad-.example.com", "is not a valid host name"),
    ],
)
def test_a_bad_allowed_domain_line_is_rejected_by_number(admin_client, site, line, expected):
    field_errors = errors(save(admin_client, site, allowed_domains=f"example.com\n{line}"))

    (message,) = field_errors["allowed_domains"]
    assert message.startswith(f"Line 2 (“{line}”)")
    assert expected in message


@pytest.mark.parametrize("value", ["/privacy/", "https://example.com/privacy#cookies"])
def test_a_privacy_address_may_be_absolute_or_a_path(admin_client, site, value):
    settings = saved(save(admin_client, site, privacy_url=value), site)

    assert settings.privacy_url == value


@pytest.mark.parametrize(
    "value", ["javascript:alert(1)", "//evil.example/privacy", "privacy", "ftp://example.com/"]
)
def test_other_privacy_addresses_are_rejected(admin_client, site, value):
    field_errors = errors(save(admin_client, site, privacy_url=value))

    assert any("starting with https://" in message for message in field_errors["privacy_url"])


def test_consent_text_is_limited(admin_client, site):
    assert errors(save(admin_client, site, consent_text="x" * 601))["consent_text"]

    settings = saved(save(admin_client, site, consent_required=True, consent_text="May we?"), site)
    rules = privacy.policy(site.pk)
    assert settings.consent_required and rules.consent_required
    assert rules.consent_text == "May we?"


# ---- avatar ------------------------------------------------------------------------------------


def test_a_small_avatar_is_rejected(admin_client, site):
    image = make_image(40, 40)

    field_errors = errors(save(admin_client, site, avatar=image.pk))

    assert field_errors["avatar"] == [
        "The avatar must be at least 48x48 pixels; this image is 40x40."
    ]


def test_an_avatar_far_from_square_is_rejected(admin_client, site):
    image = make_image(300, 150)

    field_errors = errors(save(admin_client, site, avatar=image.pk))

    (message,) = field_errors["avatar"]
    assert "roughly square (between 3:4 and 4:3)" in message
    assert "300x150" in message


def test_an_avatar_in_a_format_the_widget_cannot_show_is_rejected(admin_client, site):
    image = make_image(100, 100, name="avatar.bmp", image_format="BMP")

    field_errors = errors(save(admin_client, site, avatar=image.pk))

    assert any("can't show BMP images" in message for message in field_errors["avatar"])


def test_a_good_avatar_is_accepted_and_sent_as_a_square_rendition(admin_client, site):
    image = make_image(400, 360, name="face.jpg", image_format="JPEG")

    settings = saved(save(admin_client, site, avatar=image.pk, bot_name="Ada"), site)

    assert settings.avatar == image
    look = branding.appearance(site.pk)
    rendition = image.get_rendition("fill-200x200")
    assert (rendition.width, rendition.height) == (200, 200)
    assert look["avatar"] == rendition.url
    assert look["name"] == "Ada"
    soup = WagtailTestUtils.get_soup(admin_client.get(edit_url(site)).content)
    assert soup.select_one("[data-dynchat-preview] .dynchat-avatar")["src"] == rendition.url
    assert soup.select_one("[data-dynchat-preview] .dynchat-title").text == "Ada"


# ---- what the widget reads ---------------------------------------------------------------------


def test_appearance_is_per_site(admin_client, site, other_site):
    saved(
        save(
            admin_client,
            site,
            bot_name="Ada",
            header_bg="#003366",
            position="left",
            offset_x=24,
            font_family="Georgia, serif",
            sound="chime",
            typing_indicator=False,
            privacy_url="/privacy/",
        ),
        site,
    )
    saved(save(admin_client, other_site, bot_name="Bob", response_delay=0), other_site)

    assert branding.appearance(site.pk) == {
        "name": "Ada",
        "avatar": None,
        "position": "left",
        "theme": {
            "header-bg": "#003366",
            "font": "Georgia, serif",
            "offset-x": "24px",
            "offset-y": "16px",
        },
        "delay": 600,
        "typing": False,
        "pokeMobile": True,
        "sound": "chime",
        "scrollButton": True,
        "privacy": "/privacy/",
    }
    other = branding.appearance(other_site.pk)
    assert other["name"] == "Bob"
    assert other["delay"] == 0
    assert other["theme"] == {"offset-x": "16px", "offset-y": "16px"}
    assert other["position"] == "right"


def test_appearance_costs_no_query_when_warm_and_follows_an_admin_edit(
    admin_client, site, django_assert_num_queries
):
    saved(save(admin_client, site, bot_name="Ada"), site)
    # Warm the cache.
    assert branding.appearance(site.pk)["name"] == "Ada"
    privacy.policy(site.pk)

    with django_assert_num_queries(0):
        assert branding.appearance(site.pk)["name"] == "Ada"
        assert privacy.policy(site.pk) == privacy.policy(site.pk)

    saved(save(admin_client, site, bot_name="Grace", button_bg="#0A0A0A"), site)

    look = branding.appearance(site.pk)
    assert look["name"] == "Grace"
    assert look["theme"]["accent"] == "#0a0a0a"


def test_reading_never_creates_a_settings_row(site, django_assert_max_num_queries):
    assert branding.appearance(site.pk) == branding.default_appearance()
    assert privacy.policy(site.pk) == privacy.ChatPolicy()
    assert branding.appearance(None) == branding.default_appearance()
    assert privacy.policy(None) == privacy.ChatPolicy()
    assert not ChatSettings.objects.exists()

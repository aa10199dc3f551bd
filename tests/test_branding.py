"""Branding and privacy helpers: colours, fonts, contrast, hosts, domains and the cached reads."""

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from wagtail.images import get_image_model
from wagtail.models import Page, Site

import wagtail_dynchat
from wagtail_dynchat import branding, privacy
from wagtail_dynchat.models import ChatSettings

WIDGET_CSS = Path(wagtail_dynchat.__file__).parent / "static" / "wagtail_dynchat" / "widget.css"


# ---- colours -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("#ABC", "#aabbcc"),
        ("#abc", "#aabbcc"),
        ("#1D4ED8", "#1d4ed8"),
        ("  #fff ", "#ffffff"),
        ("", ""),
        (None, ""),
    ],
)
def test_hex_colours_are_normalised(value, expected):
    assert branding.normalise_hex(value) == expected


@pytest.mark.parametrize("value", ["fff", "#ff", "#ffff", "#12345g", "#1234567", "red", "#-1-1-1"])
def test_other_colours_are_refused(value):
    with pytest.raises(ValidationError) as caught:
        branding.normalise_hex(value)
    assert caught.value.code == "invalid_colour"


def test_css_defaults_are_the_widget_css_defaults():
    # The contrast checks and the preview must judge the colours the widget really shows.
    css = WIDGET_CSS.read_text()
    declared = dict(re.findall(r"var\(--dynchat-([a-z-]+), (#[0-9a-f]{3,6})\)", css))
    for key, value in declared.items():
        if key in branding.CSS_DEFAULTS:
            assert branding.CSS_DEFAULTS[key] == branding.normalise_hex(value), key
    for key, fallback in branding.CSS_FALLBACKS.items():
        assert f"var(--dynchat-{key}, var(--_{fallback}))" in css
        assert branding.CSS_DEFAULTS[key] == branding.CSS_DEFAULTS[fallback]
    assert set(branding.CSS_DEFAULTS) == {*declared, *branding.CSS_FALLBACKS} - {"focus"}


def test_every_colour_field_has_a_custom_property_the_widget_reads():
    css = WIDGET_CSS.read_text()
    for key in branding.CSS_PROPERTIES.values():
        if key not in ("offset-x", "offset-y"):  # applied by the widget's script
            assert f"--dynchat-{key}" in css, key


# ---- fonts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Georgia", "Georgia"),
        ('"Open Sans", Arial, sans-serif', '"Open Sans", Arial, sans-serif'),
        ("'Open   Sans' ,Arial,  sans-serif", "'Open Sans', Arial, sans-serif"),
        ("-apple-system, BlinkMacSystemFont", "-apple-system, BlinkMacSystemFont"),
        ("Noto Sans JP, ヒラギノ角ゴ", "Noto Sans JP, ヒラギノ角ゴ"),
        ("'3D Font', Font-3D", "'3D Font', Font-3D"),
        ("", ""),
    ],
)
def test_font_lists_are_tidied(value, expected):
    assert branding.normalise_font_family(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Arial; color: red",
        "Arial}",
        "url(evil)",
        "Arial, , serif",
        "Arial,",
        "'Open Sans",
        "Open Sans'",
        "'Open' Sans",
        "\"Open Sans'",
        "Comic_Sans",
        "a\\62 c",
        "Arial /* x */",
        "3D Font",
        "Cool -3D",
    ],
)
def test_other_fonts_are_refused(value):
    with pytest.raises(ValidationError) as caught:
        branding.normalise_font_family(value)
    assert caught.value.code == "invalid_font"


# ---- contrast ----------------------------------------------------------------------------------


def test_contrast_ratio_follows_wcag():
    assert branding.contrast_ratio("#000", "#fff") == pytest.approx(21)
    assert branding.contrast_ratio("#fff", "#000") == pytest.approx(21)
    assert branding.contrast_ratio("#1d4ed8", "#1d4ed8") == pytest.approx(1)
    # Figures from widget.css's comments.
    assert branding.contrast_ratio("#1d4ed8", "#ffffff") == pytest.approx(6.7, abs=0.05)
    assert branding.contrast_ratio("#1f2937", "#fff") == pytest.approx(14.7, abs=0.05)
    assert branding.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_the_widget_defaults_pass():
    assert branding.contrast_warnings({}) == []
    assert branding.contrast_warnings(dict.fromkeys(branding.COLOUR_FIELDS, "")) == []


def test_a_failing_pair_is_reported_with_its_ratio():
    (warning,) = branding.contrast_warnings({"header_bg": "#777777"})

    background, foreground, ratio = warning
    assert (background, foreground) == ("header_bg", "header_text")
    assert ratio == pytest.approx(4.48, abs=0.01)
    # Rounded down: 4.48 must not read as the 4.5 it misses.
    assert branding.contrast_message(background, foreground, ratio) == (
        "Header text on header background: 4.4:1 — below the 4.5:1 WCAG AA minimum for text."
    )


def test_the_visitor_bubble_follows_the_button_colours_unless_set():
    failing = {(bg, fg) for bg, fg, _ in branding.contrast_warnings({"button_text": "#3b82f6"})}
    assert failing == {("visitor_bg", "visitor_text"), ("button_bg", "button_text")}

    failing = {
        (bg, fg)
        for bg, fg, _ in branding.contrast_warnings(
            {"button_text": "#3b82f6", "visitor_text": "#ffffff"}
        )
    }
    assert failing == {("button_bg", "button_text")}


def test_choice_buttons_are_checked_against_the_panel():
    failing = branding.contrast_warnings({"panel_bg": "#1d4ed8", "panel_text": "#ffffff"})

    assert [(bg, fg) for bg, fg, _ in failing] == [("panel_bg", "button_bg")]


def test_pairs_with_an_invalid_colour_are_skipped():
    assert branding.contrast_warnings({"header_bg": "nope", "header_text": "#1f2937"}) == []


# ---- theme -------------------------------------------------------------------------------------


def test_the_theme_holds_only_what_the_editor_set_plus_the_offsets():
    values = {
        **dict.fromkeys(branding.COLOUR_FIELDS, ""),
        "button_bg": "#0F766E",
        "panel_text": "bad value",  # a row saved without validation
        "font_family": "Georgia, serif",
        "offset_x": 0,
        "offset_y": 250,
    }

    assert branding.theme(values) == {
        "accent": "#0f766e",
        "font": "Georgia, serif",
        "offset-x": "0px",
        "offset-y": "200px",
    }


def test_the_default_appearance():
    assert branding.default_appearance() == {
        "name": "",
        "avatar": None,
        "position": "right",
        "theme": {"offset-x": "16px", "offset-y": "16px"},
        "delay": 600,
        "typing": True,
        "pokeMobile": True,
        "sound": "",
        "scrollButton": True,
        "privacy": "",
    }
    assert branding.appearance(None) == branding.default_appearance()


@pytest.fixture
def site(db):
    root = Page.get_first_root_node()
    return Site.objects.create(hostname="brand.example", port=80, root_page=root)


def test_appearance_of_a_site_without_settings_creates_nothing(site, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert branding.appearance(site.pk) == branding.default_appearance()
    with django_assert_num_queries(0):
        assert branding.appearance(site.pk) == branding.default_appearance()
    assert not ChatSettings.objects.exists()


def test_appearance_of_a_site_with_settings(site):
    ChatSettings.objects.create(
        site=site,
        bot_name="Ada",
        position="left",
        header_text="#ffffff",
        response_delay=0,
        typing_indicator=False,
        poke_on_mobile=False,
        sound="pop",
        scroll_button=False,
        privacy_url="https://example.com/privacy",
    )

    assert branding.appearance(site.pk) == {
        "name": "Ada",
        "avatar": None,
        "position": "left",
        "theme": {"header-text": "#ffffff", "offset-x": "16px", "offset-y": "16px"},
        "delay": 0,
        "typing": False,
        "pokeMobile": False,
        "sound": "pop",
        "scrollButton": False,
        "privacy": "https://example.com/privacy",
    }


def make_svg(width=120, height=100):
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" '
        'fill="#1d4ed8"/></svg>'
    )
    # Wagtail reads an SVG's size from its attributes.
    return get_image_model().objects.create(
        title="Logo", file=ContentFile(svg.encode(), name="logo.svg")
    )


def test_an_svg_avatar_stays_svg(site):
    image = make_svg()
    ChatSettings.objects.create(site=site, avatar=image)

    url = branding.appearance(site.pk)["avatar"]

    assert url.endswith(".svg")


def test_an_svg_avatar_is_checked_for_shape_but_not_pixels(site):
    settings = ChatSettings(site=site, avatar=make_svg(24, 24))
    settings.full_clean()  # vector: any size is sharp

    settings.avatar = make_svg(240, 100)
    with pytest.raises(ValidationError) as caught:
        settings.full_clean()
    assert [error.code for error in caught.value.error_dict["avatar"]] == ["avatar_not_square"]


def test_a_broken_avatar_file_costs_the_avatar_not_the_page(site):
    image = make_svg()
    image.file.storage.delete(image.file.name)
    ChatSettings.objects.create(site=site, avatar=image)

    assert branding.appearance(site.pk)["avatar"] is None


# ---- hosts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("anything.example", [], True),
        ("anything.example", (), True),
        ("example.com", ["example.com"], True),
        ("Example.COM", ["example.com"], True),
        ("example.com:8443", ["example.com"], True),
        ("example.com.", ["example.com"], True),
        ("www.example.com", ["example.com"], False),
        ("www.example.com", ["*.example.com"], True),
        ("a.b.example.com:80", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),  # the wildcard is for subdomains only
        ("badexample.com", ["*.example.com"], False),
        ("badexample.com", ["example.com"], False),
        ("example.com.evil.test", ["example.com"], False),
        ("[::1]:8000", ["example.com"], False),
        ("::1", ["example.com"], False),
        ("[::1", ["example.com"], False),
        ("", ["example.com"], False),
        (None, ["example.com"], False),
        ("localhost:8000", ["localhost", "example.com"], True),
    ],
)
def test_host_allowed(host, allowed, expected):
    assert privacy.host_allowed(host, allowed) is expected


def test_allowed_domains_are_parsed_kindly():
    text = (
        "https://Example.com/\n"
        "  *.Example.com  \n"
        "\n"
        "http://shop.example.com\n"
        "example.com\n"
        "bücher.example\n"
    )

    assert privacy.parse_allowed_domains(text) == [
        "example.com",
        "*.example.com",
        "shop.example.com",
        "xn--bcher-kva.example",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("example.com:8000", "leave out the port"),
        ("example.com/chat", "without a path"),
        ("https://example.com/chat?x=1", "without a path"),
        ("ftp://example.com", "without a path"),
        ("*", "only allowed at the start"),
        ("*.", "not a valid host name"),
        ("www.*.example.com", "only allowed at the start"),
        ("exa_mple.com", "not a valid host name"),
        ("-example.com", "not a valid host name"),
        ("a" * 64 + ".com", "not a valid host name"),
        ("[::1]", "not a valid host name"),
        ("two words.com", "not a valid host name"),
    ],
)
def test_bad_allowed_domain_lines_are_named(line, expected):
    with pytest.raises(ValidationError) as caught:
        privacy.parse_allowed_domains(f"example.com\n\n{line}")

    (message,) = caught.value.messages
    assert message.startswith(f"Line 3 (“{line}”)")
    assert expected in message


def test_every_bad_line_is_reported():
    with pytest.raises(ValidationError) as caught:
        privacy.parse_allowed_domains("bad domain\nexample.com\nx.com:1")

    assert [message[:6] for message in caught.value.messages] == ["Line 1", "Line 3"]


# ---- blocked e-mail domains --------------------------------------------------------------------


def test_blocked_email_domains_are_parsed():
    text = "@Gmail.com\n gmail.com \n\nHotmail.co.uk\n@yahoo.com"

    assert privacy.parse_blocked_email_domains(text) == ["gmail.com", "hotmail.co.uk", "yahoo.com"]


def test_fifty_blocked_email_domains_are_allowed_and_not_more():
    domains = [f"d{number}.example" for number in range(51)]

    assert len(privacy.parse_blocked_email_domains("\n".join(domains[:50]))) == 50
    # Duplicates don't count.
    assert len(privacy.parse_blocked_email_domains("\n".join(domains[:50] * 2))) == 50
    with pytest.raises(ValidationError) as caught:
        privacy.parse_blocked_email_domains("\n".join(domains))
    assert caught.value.messages == ["Enter at most 50 domains (51 were given)."]
    assert caught.value.code == "too_many_domains"


@pytest.mark.parametrize("line", ["localhost", "@", "gmail", "not a domain.com", "a@b.com"])
def test_bad_blocked_email_domains_are_named(line):
    with pytest.raises(ValidationError) as caught:
        privacy.parse_blocked_email_domains(line)

    assert caught.value.messages[0].startswith(f"Line 1 (“{line}”) is not a valid e-mail domain")


# ---- privacy address ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "/privacy/",
        "/legal/privacy?lang=en#cookies",
        "https://example.com/privacy",
        "http://example.com",
        "",
    ],
)
def test_privacy_addresses_accepted(value):
    assert privacy.validate_privacy_url(f" {value} ") == value


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "//evil.example/privacy",
        "/\\evil.example",
        "/pri vacy",
        "privacy",
        "ftp://example.com/privacy",
        "https://",
        "mailto:dpo@example.com",
    ],
)
def test_privacy_addresses_refused(value):
    with pytest.raises(ValidationError) as caught:
        privacy.validate_privacy_url(value)
    assert caught.value.code == "invalid_privacy_url"


# ---- policy ------------------------------------------------------------------------------------


def test_policy_defaults_and_reads_without_creating(site, django_assert_num_queries):
    assert privacy.policy(None) == privacy.ChatPolicy()
    with django_assert_num_queries(1):
        assert privacy.policy(site.pk) == privacy.ChatPolicy()
    with django_assert_num_queries(0):
        assert privacy.policy(site.pk) == privacy.ChatPolicy()
    assert not ChatSettings.objects.exists()


def test_policy_of_a_site(site):
    ChatSettings.objects.create(
        site=site,
        consent_required=True,
        honour_dnt_gpc=True,
        consent_text="May we?",
        privacy_url="/privacy/",
        allowed_domains="example.com\n*.example.com",
        blocked_email_domains="gmail.com\nhotmail.com",
        blocked_email_message="Work addresses only, please.",
    )

    assert privacy.policy(site.pk) == privacy.ChatPolicy(
        consent_required=True,
        honour_dnt_gpc=True,
        consent_text="May we?",
        privacy_url="/privacy/",
        allowed_domains=("example.com", "*.example.com"),
        blocked_email_domains=("gmail.com", "hotmail.com"),
        blocked_email_message="Work addresses only, please.",
    )


def test_saving_settings_refreshes_the_policy(site):
    settings = ChatSettings.objects.create(site=site)
    assert not privacy.policy(site.pk).consent_required

    settings.consent_required = True
    settings.save()

    assert privacy.policy(site.pk).consent_required


def test_a_policy_is_immutable():
    with pytest.raises(AttributeError):
        privacy.ChatPolicy().consent_required = True

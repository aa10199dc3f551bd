"""The chat's look per site: colour and font validation, WCAG contrast checks and the widget's
``appearance`` (what it needs from :class:`~wagtail_dynchat.models.ChatSettings`, cached).

The widget sets each theme value as ``--dynchat-<key>`` on its root element (see widget.css), so a
site's own stylesheet can still override any of them.
"""

import logging
import math
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import targeting

logger = logging.getLogger(__name__)

# The widget's own defaults, as widget.css defines them (normalised to #rrggbb).
CSS_DEFAULTS = {
    "accent": "#1d4ed8",
    "accent-text": "#ffffff",
    "bot-bg": "#f1f3f5",
    "bot-text": "#1f2328",
    "visitor-bg": "#1d4ed8",
    "visitor-text": "#ffffff",
    "header-bg": "#1f2937",
    "header-text": "#ffffff",
    "panel-bg": "#ffffff",
    "panel-text": "#1f2328",
}

# Properties whose default is another property (widget.css: the visitor's bubble takes the
# accent colours unless it has its own), so the effective colour follows what the editor set.
CSS_FALLBACKS = {"visitor-bg": "accent", "visitor-text": "accent-text"}

# ChatSettings colour fields → the widget's custom property names (without ``--dynchat-``).
COLOUR_PROPERTIES = {
    "header_bg": "header-bg",
    "header_text": "header-text",
    "bot_bg": "bot-bg",
    "bot_text": "bot-text",
    "visitor_bg": "visitor-bg",
    "visitor_text": "visitor-text",
    "button_bg": "accent",
    "button_text": "accent-text",
    "panel_bg": "panel-bg",
    "panel_text": "panel-text",
}
COLOUR_FIELDS = tuple(COLOUR_PROPERTIES)

# Every ChatSettings field that becomes a custom property.
CSS_PROPERTIES = {
    **COLOUR_PROPERTIES,
    "font_family": "font",
    "offset_x": "offset-x",
    "offset_y": "offset-y",
}

# WCAG 2.2 AA minimum contrast for normal-size text (success criterion 1.4.3).
WCAG_AA_TEXT = 4.5

# (background field, foreground field, what the editor is told) for every pair of colours the
# widget draws text with. Choice buttons show the button colour as text on the panel background,
# so that pair is checked too.
CONTRAST_PAIRS = (
    ("header_bg", "header_text", _("Header text on header background")),
    ("bot_bg", "bot_text", _("Bot message text on bot bubble")),
    ("visitor_bg", "visitor_text", _("Visitor message text on visitor bubble")),
    ("button_bg", "button_text", _("Button text on button colour")),
    ("panel_bg", "button_bg", _("Choice buttons (button colour) on panel background")),
    ("panel_bg", "panel_text", _("Panel text on panel background")),
)

CONTRAST_MESSAGE = _("%(pair)s: %(ratio)s:1 — below the %(minimum)s:1 WCAG AA minimum for text.")

_HEX = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})", re.IGNORECASE)
# One font name: words of letters and digits (any script) joined by spaces or hyphens; a leading
# hyphen is allowed for vendor names such as -apple-system.
_FONT_NAME = re.compile(r"-?[^\W_]+(?:[ -]+[^\W_]+)*")


def normalise_hex(value):
    """``value`` as a lowercase ``#rrggbb`` colour ("" stays ""); ``#abc`` is expanded.

    Raises :class:`~django.core.exceptions.ValidationError` for anything else.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if not _HEX.fullmatch(value):
        raise ValidationError(
            _("Enter a colour as a hex value such as #1d4ed8 or #fff, or leave it blank."),
            code="invalid_colour",
        )
    value = value.lower()
    if len(value) == 4:
        value = "#" + "".join(digit * 2 for digit in value[1:])
    return value


def normalise_font_family(value):
    """A CSS font-family list, tidied (``"Open Sans", Arial, sans-serif``); "" stays "".

    Only letters, digits, spaces, hyphens, commas and quotes are allowed, and quotes must enclose
    a whole family name: anything else could end the CSS value early. Raises
    :class:`~django.core.exceptions.ValidationError` otherwise.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if any(not (char.isalnum() or char in " -,'\"") for char in value):
        raise ValidationError(
            _(
                "Use only letters, digits, spaces, hyphens, commas and quotes, for example: "
                '"Open Sans", Arial, sans-serif.'
            ),
            code="invalid_font",
        )
    families = []
    for family in value.split(","):
        family = family.strip()
        quoted = len(family) >= 2 and family[0] == family[-1] and family[0] in "'\""
        name = " ".join(family[1:-1].split()) if quoted else " ".join(family.split())
        if not name or not _FONT_NAME.fullmatch(name):
            raise ValidationError(
                _(
                    "Separate font names with commas, and put quotes (if any) around a whole "
                    'name, for example: "Open Sans", Arial, sans-serif.'
                ),
                code="invalid_font",
            )
        # Unquoted, each word is a CSS identifier, which can't start with a digit: the browser
        # would drop the whole list.
        if not quoted and any(word.removeprefix("-")[:1].isdigit() for word in name.split()):
            raise ValidationError(
                _('Put quotes around a font name with a word starting with a digit: "3D Font".'),
                code="invalid_font",
            )
        families.append(f"{family[0]}{name}{family[0]}" if quoted else name)
    return ", ".join(families)


def relative_luminance(hex_colour):
    """The WCAG 2.2 relative luminance (0 to 1) of a ``#rgb``/``#rrggbb`` colour."""
    value = normalise_hex(hex_colour)
    channels = []
    for start in (1, 3, 5):
        srgb = int(value[start : start + 2], 16) / 255
        channels.append(srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(hex_a, hex_b):
    """The WCAG 2.2 contrast ratio (1 to 21) of two colours, in either order."""
    lighter, darker = sorted((relative_luminance(hex_a), relative_luminance(hex_b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def format_ratio(ratio):
    """A ratio for people: one decimal, rounded down so that a failing 4.46 never reads 4.5."""
    return f"{math.floor(ratio * 10) / 10:.1f}"


def effective_colours(values):
    """Per colour field, the colour the widget shows: the editor's value or the widget default.

    ``values`` maps field names to what the editor entered (missing or blank: the default). A
    field whose value is not a valid colour maps to None.
    """
    by_property = {}
    for field, css_key in COLOUR_PROPERTIES.items():
        try:
            by_property[css_key] = normalise_hex(values.get(field)) or None
        except ValidationError:
            by_property[css_key] = False  # invalid: its field shows an error already
    resolved = {}
    for field, css_key in COLOUR_PROPERTIES.items():
        value = by_property[css_key]
        if value is None and css_key in CSS_FALLBACKS:
            value = by_property[CSS_FALLBACKS[css_key]]
            if value is None:
                value = CSS_DEFAULTS[CSS_FALLBACKS[css_key]]
        elif value is None:
            value = CSS_DEFAULTS[css_key]
        resolved[field] = value or None
    return resolved


def contrast_warnings(values):
    """``[(field_a, field_b, ratio)]`` for each colour pair below the WCAG AA 4.5:1 minimum.

    ``values`` maps ChatSettings colour fields to the editor's values; blank ones count as the
    widget's defaults, and pairs with an invalid value are skipped (that field has an error).
    ``field_a`` is the background, ``field_b`` the text drawn on it.
    """
    colours = effective_colours(values)
    warnings = []
    for background, foreground, _label in CONTRAST_PAIRS:
        if colours[background] is None or colours[foreground] is None:
            continue
        ratio = contrast_ratio(colours[background], colours[foreground])
        if ratio < WCAG_AA_TEXT:
            warnings.append((background, foreground, ratio))
    return warnings


def contrast_message(background, foreground, ratio):
    """What the editor is told about a failing pair, in the active language."""
    label = next(label for bg, fg, label in CONTRAST_PAIRS if (bg, fg) == (background, foreground))
    return str(CONTRAST_MESSAGE) % {
        "pair": label,
        "ratio": format_ratio(ratio),
        "minimum": format_ratio(WCAG_AA_TEXT),
    }


# ---- what the widget reads ---------------------------------------------------------------------

AVATAR_FILTER = "fill-200x200|preserve-svg"

_DEFAULT_OFFSET = 16


def default_appearance():
    """The widget's appearance when a site has no ChatSettings row."""
    return {
        "name": "",
        "avatar": None,
        "position": "right",
        "theme": {"offset-x": f"{_DEFAULT_OFFSET}px", "offset-y": f"{_DEFAULT_OFFSET}px"},
        "delay": 600,
        "typing": True,
        "pokeMobile": True,
        "sound": "",
        "scrollButton": True,
        "privacy": "",
    }


def appearance(site_id):
    """What the widget needs to look and behave as a site's editors set it, JSON-ready.

    ``{"name", "avatar" (a rendition URL or None), "position", "theme" (custom property → value,
    only those the editor set, plus the offsets), "delay", "typing", "pokeMobile", "sound",
    "scrollButton", "privacy"}``. Cached with the targeting entries (saving ChatSettings
    invalidates them), so a warm cache costs no query. Reading never creates a ChatSettings row;
    a site without one (or ``site_id`` None) gets the defaults.
    """
    if site_id is None:
        return default_appearance()
    return targeting.cached(f"appearance:{site_id}", lambda: _compute_appearance(site_id))


def theme(values):
    """The widget's theme for ChatSettings values (a dict of field → value): the custom
    properties the editor set (invalid ones left out), and the offsets always."""
    result = {}
    for field, css_key in COLOUR_PROPERTIES.items():
        try:
            colour = normalise_hex(values.get(field))
        except ValidationError:
            # Rows written without validation (the shell, a fixture) must not break the page.
            colour = ""
        if colour:
            result[css_key] = colour
    try:
        font = normalise_font_family(values.get("font_family"))
    except ValidationError:
        font = ""
    if font:
        result["font"] = font
    for field in ("offset_x", "offset_y"):
        offset = values.get(field)
        offset = _DEFAULT_OFFSET if offset is None else min(max(int(offset), 0), 200)
        result[CSS_PROPERTIES[field]] = f"{offset}px"
    return result


def avatar_url(image):
    """The URL of the avatar's square rendition (SVGs stay SVG), or None if it can't be made."""
    if image is None:
        return None
    try:
        return image.get_rendition(AVATAR_FILTER).url
    except Exception:
        # A missing or broken file must cost the site its avatar, not every page with the chat.
        logger.exception("No rendition of the chat avatar (image %s)", image.pk)
        return None


def _compute_appearance(site_id):
    from .models import ChatSettings

    # filter().first(): BaseSiteSetting.for_site would create the row.
    row = ChatSettings.objects.filter(site_id=site_id).select_related("avatar").first()
    if row is None:
        return default_appearance()
    values = {field: getattr(row, field) for field in CSS_PROPERTIES}
    return {
        "name": row.bot_name,
        "avatar": avatar_url(row.avatar),
        "position": row.position if row.position in ("left", "right") else "right",
        "theme": theme(values),
        "delay": row.response_delay,
        "typing": row.typing_indicator,
        "pokeMobile": row.poke_on_mobile,
        "sound": row.sound,
        "scrollButton": row.scroll_button,
        "privacy": row.privacy_url,
    }

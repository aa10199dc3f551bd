"""The ChatSettings form: tabs, colour fields with contrast warnings, and a live preview.

Warnings are rendered on the server (so they show without JavaScript and after a failed save)
and kept up to date as the editor types by ``admin/chat_settings.js``, which also restyles the
preview. Nothing here uses inline scripts or style attributes, so a strict CSP admin works.

This module is imported by the model (for its ``edit_handler``): it must not import models.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    MultiFieldPanel,
    ObjectList,
    Panel,
    TabbedInterface,
)

from .. import branding

ADMIN_JS = "wagtail_dynchat/admin/chat_settings.js"
ADMIN_CSS = "wagtail_dynchat/admin/chat_settings.css"
WIDGET_CSS = "wagtail_dynchat/widget.css"


class ColourInput(forms.TextInput):
    """A hex colour text field with a colour picker beside it (kept in step by the admin JS).

    The picker has no name, so only the text field is submitted; without JavaScript it is simply
    unused. ``default`` is the widget's colour when the field is blank.
    """

    template_name = "wagtail_dynchat/admin/colour_input.html"

    def __init__(self, attrs=None, default="", picker_label=""):
        attrs = {
            "class": "dynchat-colour-text",
            "maxlength": 7,
            "size": 8,
            "spellcheck": "false",
            "autocomplete": "off",
            "placeholder": default,
            "data-dynchat-colour": "",
            **(attrs or {}),
        }
        super().__init__(attrs)
        self.default = default
        self.picker_label = picker_label

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        try:
            colour = branding.normalise_hex(value) or self.default
        except ValidationError:
            colour = self.default
        context["widget"].update(
            picker_value=colour or "#000000",
            picker_label=self.picker_label,
            default=self.default,
        )
        return context

    class Media:
        js = [ADMIN_JS]
        css = {"all": [ADMIN_CSS]}


def _contrast_items(form, pairs):
    """``[{"background", "foreground", "message"}]`` for ``pairs``; message "" when it passes.

    Reads what the form holds (the submitted values after a failed save, the saved ones before).
    """
    values = {
        field: form[field].value() for field in branding.COLOUR_FIELDS if field in form.fields
    }
    failing = {(bg, fg): ratio for bg, fg, ratio in branding.contrast_warnings(values)}
    items = []
    for background, foreground in pairs:
        ratio = failing.get((background, foreground))
        items.append(
            {
                "background": background,
                "foreground": foreground,
                "message": ""
                if ratio is None
                else branding.contrast_message(background, foreground, ratio),
            }
        )
    return items


class _ColourFieldPanel(FieldPanel):
    """A colour field whose help text is left to its group (it would repeat on every field)."""

    class BoundPanel(FieldPanel.BoundPanel):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.help_text = ""
            if self.bound_field is not None:
                # Wagtail's field template falls back to the bound field's help text (and its
                # aria-describedby to the field's). Each form has its own copies of both.
                self.bound_field.help_text = self.bound_field.field.help_text = ""


class ColourGroupPanel(MultiFieldPanel):
    """Colour fields (with pickers) side by side, followed by the contrast warnings of the pairs
    whose text colour is among them."""

    def __init__(self, fields=(), *args, **kwargs):
        self.fields = tuple(fields)
        super().__init__(*args, **kwargs)

    def clone_kwargs(self):
        kwargs = super().clone_kwargs()
        kwargs["fields"] = self.fields
        return kwargs

    def on_model_bound(self):
        # Built here rather than in __init__: the pickers are named after the model's fields.
        if not self.children:
            self.children = [FieldRowPanel([self._field_panel(field) for field in self.fields])]
        super().on_model_bound()

    def _field_panel(self, field):
        css_key = branding.COLOUR_PROPERTIES[field]
        label = self.model._meta.get_field(field).verbose_name
        fallback = branding.CSS_FALLBACKS.get(css_key)
        return _ColourFieldPanel(
            field,
            widget=ColourInput(
                default=branding.CSS_DEFAULTS[fallback or css_key],
                picker_label=format_lazy(_("{label}: colour picker"), label=capfirst(label)),
            ),
        )

    @property
    def pairs(self):
        return [
            (background, foreground)
            for background, foreground, _label in branding.CONTRAST_PAIRS
            if foreground in self.fields
        ]

    class BoundPanel(MultiFieldPanel.BoundPanel):
        template_name = "wagtail_dynchat/admin/colour_group_panel.html"

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context["contrast"] = _contrast_items(self.form, self.panel.pairs)
            return context


class ChatPreviewPanel(Panel):
    """A static mock of the widget, styled by the real widget.css and restyled live."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "wagtail_dynchat/admin/chat_preview_panel.html"

        class Media:
            js = [ADMIN_JS]
            css = {"all": [WIDGET_CSS, ADMIN_CSS]}

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            avatar = getattr(self.instance, "avatar", None)
            context.update(
                avatar_url=branding.avatar_url(avatar) if avatar is not None else None,
                default_title=_("Chat with us"),
                config={
                    "defaults": branding.CSS_DEFAULTS,
                    "fallbacks": branding.CSS_FALLBACKS,
                    "properties": branding.CSS_PROPERTIES,
                    "pairs": [
                        [background, foreground, str(label)]
                        for background, foreground, label in branding.CONTRAST_PAIRS
                    ],
                    "minimum": branding.WCAG_AA_TEXT,
                    "message": str(branding.CONTRAST_MESSAGE),
                    "defaultTitle": str(_("Chat with us")),
                },
            )
            return context


def chat_settings_edit_handler():
    """The ChatSettings form in three tabs: appearance, behaviour, privacy and security."""
    return TabbedInterface(
        [
            ObjectList(
                [
                    ChatPreviewPanel(heading=_("Preview")),
                    MultiFieldPanel(
                        [FieldPanel("bot_name"), FieldPanel("avatar")],
                        heading=_("Identity"),
                    ),
                    MultiFieldPanel(
                        [
                            FieldPanel("position", widget=forms.RadioSelect),
                            FieldRowPanel([FieldPanel("offset_x"), FieldPanel("offset_y")]),
                        ],
                        heading=_("Position"),
                    ),
                    ColourGroupPanel(
                        ["header_bg", "header_text"],
                        heading=_("Header colours"),
                        # Said once for all the colour fields below.
                        help_text=_(
                            "Colours are hex values such as #1d4ed8 or #fff. A blank field uses "
                            "the widget's default, shown in grey."
                        ),
                    ),
                    ColourGroupPanel(["bot_bg", "bot_text"], heading=_("Bot message colours")),
                    ColourGroupPanel(
                        ["visitor_bg", "visitor_text"], heading=_("Visitor message colours")
                    ),
                    ColourGroupPanel(["button_bg", "button_text"], heading=_("Button colours")),
                    ColourGroupPanel(["panel_bg", "panel_text"], heading=_("Panel colours")),
                    FieldPanel("font_family"),
                ],
                heading=_("Appearance"),
            ),
            ObjectList(
                [
                    FieldPanel("enabled"),
                    FieldPanel("response_delay"),
                    FieldPanel("typing_indicator"),
                    FieldPanel("poke_on_mobile"),
                    FieldPanel("sound"),
                    FieldPanel("scroll_button"),
                ],
                heading=_("Behaviour"),
            ),
            ObjectList(
                [
                    FieldPanel("privacy_url"),
                    MultiFieldPanel(
                        [
                            FieldPanel("consent_required"),
                            FieldPanel("honour_dnt_gpc"),
                            FieldPanel("consent_text"),
                        ],
                        heading=_("Consent"),
                    ),
                    FieldPanel("allowed_domains"),
                    MultiFieldPanel(
                        [FieldPanel("blocked_email_domains"), FieldPanel("blocked_email_message")],
                        heading=_("Blocked e-mail addresses"),
                    ),
                ],
                heading=_("Privacy and security"),
            ),
        ]
    )

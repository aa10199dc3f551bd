"""Editor-owned, per-site settings of the chat (secrets never live here: see conf.py)."""

import os

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.images import get_image_model_string

from .. import branding, privacy
from ..admin.chat_settings import chat_settings_edit_handler

# What the widget can show as an avatar: the browser formats Wagtail stores, SVG included.
AVATAR_FORMATS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg"}
AVATAR_MIN_SIZE = 48


def _colour_field(verbose_name):
    return models.CharField(
        verbose_name,
        max_length=7,
        blank=True,
        help_text=_("A hex colour such as #1d4ed8 or #fff; blank uses the widget's default."),
    )


@register_setting(icon="comment")
class ChatSettings(BaseSiteSetting):
    enabled = models.BooleanField(
        _("chat enabled"),
        default=True,
        help_text=_("Switch off every dialogue of this site at once, without unpublishing any."),
    )

    # ---- appearance ----
    bot_name = models.CharField(
        _("chatbot name"),
        max_length=60,
        blank=True,
        help_text=_("Shown in the chat's header; blank shows the dialogue's title."),
    )
    avatar = models.ForeignKey(
        get_image_model_string(),
        verbose_name=_("avatar"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "Shown in the chat's header, cropped to a square around its focal point. At least "
            "48x48 pixels and roughly square; JPEG, PNG, GIF, WebP or SVG."
        ),
    )
    position = models.CharField(
        _("position"),
        max_length=5,
        choices=[("right", _("Bottom right")), ("left", _("Bottom left"))],
        default="right",
        help_text=_("The corner of the page where the chat's launcher button sits."),
    )
    offset_x = models.PositiveSmallIntegerField(
        _("horizontal distance"),
        default=16,
        validators=[MaxValueValidator(200)],
        help_text=_("Pixels between the launcher and the side of the page (0 to 200)."),
    )
    offset_y = models.PositiveSmallIntegerField(
        _("vertical distance"),
        default=16,
        validators=[MaxValueValidator(200)],
        help_text=_("Pixels between the launcher and the bottom of the page (0 to 200)."),
    )
    header_bg = _colour_field(_("header background"))
    header_text = _colour_field(_("header text"))
    bot_bg = _colour_field(_("bot bubble background"))
    bot_text = _colour_field(_("bot bubble text"))
    visitor_bg = _colour_field(_("visitor bubble background"))
    visitor_text = _colour_field(_("visitor bubble text"))
    button_bg = _colour_field(_("button colour"))
    button_text = _colour_field(_("button text"))
    panel_bg = _colour_field(_("panel background"))
    panel_text = _colour_field(_("panel text"))
    font_family = models.CharField(
        _("font"),
        max_length=100,
        blank=True,
        help_text=_(
            'A CSS font list such as "Open Sans", Arial, sans-serif; the fonts must already be '
            "loaded by the site. Blank uses the page's own font."
        ),
    )

    # ---- behaviour ----
    response_delay = models.PositiveSmallIntegerField(
        _("response delay"),
        default=600,
        validators=[MaxValueValidator(5000)],
        help_text=_("Milliseconds the chat pauses before each bot message (0 to 5000)."),
    )
    typing_indicator = models.BooleanField(
        _("typing indicator"),
        default=True,
        help_text=_("Show that the bot is “typing” during the pause."),
    )
    poke_on_mobile = models.BooleanField(
        _("teaser on small screens"),
        default=True,
        help_text=_("Show a dialogue's teaser beside the launcher on phones too."),
    )
    sound = models.CharField(
        _("new message sound"),
        max_length=10,
        blank=True,
        choices=[("", _("Off")), ("chime", _("Chime")), ("pop", _("Pop"))],
        default="",
        help_text=_("Played for each new bot message while the chat is open."),
    )
    scroll_button = models.BooleanField(
        _("“latest message” button"),
        default=True,
        help_text=_("Offer a button back to the latest message when the visitor scrolled up."),
    )

    # ---- privacy and security ----
    privacy_url = models.CharField(
        _("privacy policy address"),
        max_length=500,
        blank=True,
        help_text=_(
            "Linked from the chat: a full address (https://…) or a path on this site (/privacy/)."
        ),
    )
    consent_required = models.BooleanField(
        _("ask for consent first"),
        default=False,
        help_text=_(
            "Ask every visitor before the chat sets a cookie or records anything they say."
        ),
    )
    consent_text = models.TextField(
        _("consent question"),
        max_length=600,
        blank=True,
        validators=[MaxLengthValidator(600)],
        help_text=_("What visitors are asked; blank uses the chat's own (translated) question."),
    )
    honour_dnt_gpc = models.BooleanField(
        _("honour Do Not Track and Global Privacy Control"),
        default=False,
        help_text=_(
            "Ask visitors whose browser sends Do-Not-Track or Global Privacy Control for consent, "
            "and store nothing about them until they accept."
        ),
    )
    allowed_domains = models.TextField(
        _("allowed domains"),
        blank=True,
        help_text=_(
            "One host per line, such as example.com or *.example.com (every subdomain, not "
            "example.com itself). The chat runs only on these hosts; blank allows any."
        ),
    )
    blocked_email_domains = models.TextField(
        _("blocked e-mail domains"),
        blank=True,
        help_text=_(
            "One domain per line (at most 50), such as gmail.com: e-mail addresses at these "
            "domains are refused when the chat asks for one."
        ),
    )
    blocked_email_message = models.CharField(
        _("blocked e-mail message"),
        max_length=200,
        blank=True,
        help_text=_("What a visitor with a blocked address is told; blank uses the default."),
    )

    edit_handler = chat_settings_edit_handler()

    class Meta:
        verbose_name = _("chat settings")
        verbose_name_plural = _("chat settings")

    def __str__(self):
        return str(self.site)

    def clean(self):
        """Validate and normalise colours, font, addresses, domain lists and the avatar."""
        super().clean()
        errors = {}

        def normalise(field, function):
            try:
                setattr(self, field, function(getattr(self, field)))
            except ValidationError as error:
                errors[field] = error

        for field in branding.COLOUR_FIELDS:
            normalise(field, branding.normalise_hex)
        normalise("font_family", branding.normalise_font_family)
        normalise("privacy_url", privacy.validate_privacy_url)
        normalise("allowed_domains", lambda text: "\n".join(privacy.parse_allowed_domains(text)))
        normalise(
            "blocked_email_domains",
            lambda text: "\n".join(privacy.parse_blocked_email_domains(text)),
        )
        if self.avatar_id is not None:
            avatar_errors = self._avatar_errors(self.avatar)
            if avatar_errors:
                errors["avatar"] = avatar_errors
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _avatar_errors(image):
        errors = []
        extension = os.path.splitext(image.file.name)[1].lower()
        if extension not in AVATAR_FORMATS:
            errors.append(
                ValidationError(
                    gettext(
                        "The chat can't show %(format)s images: choose a JPEG, PNG, GIF, WebP or "
                        "SVG image."
                    )
                    % {"format": extension.lstrip(".").upper() or gettext("unknown")},
                    code="avatar_format",
                )
            )
        width, height = image.width or 0, image.height or 0
        # A vector image is sharp at any size; only its shape matters.
        too_small = extension != ".svg" and (width < AVATAR_MIN_SIZE or height < AVATAR_MIN_SIZE)
        if too_small:
            errors.append(
                ValidationError(
                    gettext(
                        "The avatar must be at least %(minimum)dx%(minimum)d pixels; this image "
                        "is %(width)dx%(height)d."
                    )
                    % {"minimum": AVATAR_MIN_SIZE, "width": width, "height": height},
                    code="avatar_too_small",
                )
            )
        # Cropped to a square, a much longer side would lose too much of the picture.
        elif width and height and not 3 / 4 <= width / height <= 4 / 3:
            errors.append(
                ValidationError(
                    gettext(
                        "The avatar must be roughly square (between 3:4 and 4:3), as it is "
                        "cropped to a square around its focal point; this image is "
                        "%(width)dx%(height)d."
                    )
                    % {"width": width, "height": height},
                    code="avatar_not_square",
                )
            )
        return errors

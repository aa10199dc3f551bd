"""Editor-owned, per-site settings of the chat (secrets never live here: see conf.py)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting


@register_setting(icon="comment")
class ChatSettings(BaseSiteSetting):
    enabled = models.BooleanField(
        _("chat enabled"),
        default=True,
        help_text=_("Switch off every dialogue of this site at once, without unpublishing any."),
    )

    class Meta:
        verbose_name = _("chat settings")
        verbose_name_plural = _("chat settings")

    def __str__(self):
        return str(self.site)

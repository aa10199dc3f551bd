"""Editor-owned, per-site settings of the chat (secrets never live here: see conf.py)."""

from django.core.cache import caches
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

from ..conf import dynchat_settings


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

    @classmethod
    def enabled_for_site_id(cls, site_id):
        """Whether the chat is on for a site, answered from the cache once known."""
        if site_id is None:
            return True
        cache = caches[dynchat_settings.CACHE_ALIAS]
        key = f"dynchat:settings:enabled:{site_id}"
        enabled = cache.get(key)
        if enabled is None:
            row = cls.objects.filter(site_id=site_id).values_list("enabled", flat=True).first()
            # A site nobody configured keeps the default; reading must not create the row.
            enabled = True if row is None else row
            cache.set(key, enabled, None)
        return enabled

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        caches[dynchat_settings.CACHE_ALIAS].delete(f"dynchat:settings:enabled:{self.site_id}")

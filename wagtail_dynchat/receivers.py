"""Model side effects: keep the targeting cache and flow snapshots in step with content."""

import swapper
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from wagtail.models import Locale, Site
from wagtail.signals import (
    page_published,
    page_unpublished,
    post_page_move,
    published,
    unpublished,
)

from . import targeting
from .marketo import mapping
from .models import ChatSettings, Dialogue, MarketoField
from .snapshots import live_snapshot


@receiver(published, sender=Dialogue)
def dialogue_published(sender, instance, **kwargs):
    # Compile now, so the first visitor after publishing doesn't pay for it. A first publish with
    # a future go-live date also sends this signal, but nothing is live yet.
    if instance.live and instance.live_revision_id:
        live_snapshot(instance)
    targeting.invalidate()


@receiver(unpublished, sender=Dialogue)
@receiver(post_delete, sender=Dialogue)
def dialogue_withdrawn(sender, instance, **kwargs):
    targeting.invalidate()


@receiver(post_page_move)
@receiver(page_published)
@receiver(page_unpublished)
def page_tree_changed(sender, **kwargs):
    # Cached entries hold paths, translation keys and sites computed from the tree as it was.
    targeting.invalidate()


@receiver(post_save, sender=Site)
@receiver(post_delete, sender=Site)
@receiver(post_save, sender=Locale)
@receiver(post_delete, sender=Locale)
def sites_or_locales_changed(sender, **kwargs):
    targeting.invalidate()


@receiver(post_save, sender=ChatSettings)
@receiver(post_delete, sender=ChatSettings)
def chat_settings_changed(sender, **kwargs):
    # The switch is cached with the targeting entries, and the tag's output depends on it.
    targeting.invalidate()


@receiver(post_save, sender=MarketoField)
@receiver(post_delete, sender=MarketoField)
def marketo_field_changed(sender, **kwargs):
    # Person fields and attributes come from the cached mapping. Targeting entries need no
    # invalidation: they hold audiences compiled into each revision's snapshot, which a mapping
    # change does not alter (and fields live dialogues use cannot be removed or renamed).
    # Again on commit: a request between the save and the commit may have cached the old rows.
    mapping.invalidate()
    transaction.on_commit(mapping.invalidate)


def page_deleted(sender, instance, **kwargs):
    targeting.invalidate()


post_delete.connect(
    page_deleted,
    sender=swapper.get_model_name("wagtailcore", "Page"),
    dispatch_uid="wagtail_dynchat_page_deleted",
)

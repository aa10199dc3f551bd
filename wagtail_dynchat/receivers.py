"""Model side effects: keep the targeting cache and flow snapshots in step with content."""

import swapper
from django.db.models.signals import post_delete
from django.dispatch import receiver
from wagtail.signals import post_page_move, published, unpublished

from . import targeting
from .models import Dialogue
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
def page_moved(sender, **kwargs):
    # Targets hold page ids, but cached entries were computed from the old paths.
    targeting.invalidate()


def page_deleted(sender, instance, **kwargs):
    targeting.invalidate()


post_delete.connect(
    page_deleted,
    sender=swapper.get_model_name("wagtailcore", "Page"),
    dispatch_uid="wagtail_dynchat_page_deleted",
)

"""Compiled revisions of dialogues, which conversations are pinned to, and the runtime view of
live dialogues that bootstrap reads from the cache."""

from django.core.cache import caches
from django.db import IntegrityError, transaction

from . import engine, targeting
from .conf import dynchat_settings
from .models import FlowSnapshot


def behaviour_of(dialogue):
    """Everything about a dialogue version that decides when and to whom it shows."""
    return {
        "slug": dialogue.slug,
        "triggers": dialogue.triggers.stream_block.compile(dialogue.triggers),
        "audience": dialogue.compile_audience(),
        "repeat": dialogue.repeat,
        # The language its content is written in (a fallback may show it on another locale's page).
        "lang": dialogue.locale.language_code if dialogue.locale_id else None,
    }


def live_snapshot(dialogue):
    """The snapshot of ``dialogue``'s live revision, compiled on first use.

    ``dialogue`` must be the live database row: for draft-state models the row holds the live
    content while drafts exist only as revisions.
    """
    revision_id = dialogue.live_revision_id
    if revision_id is None:
        raise ValueError(f"Dialogue {dialogue.pk} has no live revision")
    snapshot = FlowSnapshot.objects.filter(revision_id=revision_id).first()
    if snapshot is not None:
        return snapshot
    try:
        with transaction.atomic():
            return FlowSnapshot.objects.create(
                dialogue=dialogue,
                revision_id=revision_id,
                title=dialogue.title,
                flow=dialogue.compile_flow(),
                behaviour=behaviour_of(dialogue),
            )
    except IntegrityError:
        # Two first visitors raced to compile the same revision: use the winner's copy.
        return FlowSnapshot.objects.get(revision_id=revision_id)


def runtime(dialogue_ids):
    """What bootstrap needs of live dialogues, by id, from the cache where possible.

    Each entry: ``id``, ``snapshot_id``, ``title``, ``teaser``, ``slug``, ``triggers``,
    ``audience``, ``repeat``. Dialogues that are not live are left out.
    """
    from .models import Dialogue

    cache = caches[dynchat_settings.CACHE_ALIAS]
    prefix = f"dynchat:runtime:{targeting.version()}:"
    found = cache.get_many([f"{prefix}{pk}" for pk in dialogue_ids])
    entries = {int(key.removeprefix(prefix)): value for key, value in found.items()}
    missing = [pk for pk in dialogue_ids if pk not in entries]
    if missing:
        dialogues = list(Dialogue.objects.filter(pk__in=missing, live=True))
        # One query for the snapshots that exist; live_snapshot compiles any that don't.
        known = FlowSnapshot.objects.in_bulk(
            [d.live_revision_id for d in dialogues], field_name="revision_id"
        )
        fresh = {
            d.pk: runtime_entry(d.pk, known.get(d.live_revision_id) or live_snapshot(d))
            for d in dialogues
        }
        cache.set_many(
            {f"{prefix}{pk}": entry for pk, entry in fresh.items()},
            dynchat_settings.CACHE_TIMEOUT,
        )
        entries.update(fresh)
    return entries


def runtime_entry(dialogue_id, snapshot):
    """The runtime view of one snapshot (see :func:`runtime`)."""
    behaviour = snapshot.behaviour or {}
    return {
        "id": dialogue_id,
        "snapshot_id": snapshot.pk,
        "title": snapshot.title,
        "teaser": engine.teaser(snapshot.flow),
        "slug": behaviour.get("slug", ""),
        "triggers": behaviour.get("triggers", [{"type": "immediately"}]),
        "audience": behaviour.get("audience"),
        "repeat": bool(behaviour.get("repeat")),
        "lang": behaviour.get("lang"),
    }

"""Compiled flows of published revisions, which conversations are pinned to."""

from django.db import IntegrityError, transaction

from .models import FlowSnapshot


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
            )
    except IntegrityError:
        # Two first visitors raced to compile the same revision: use the winner's copy.
        return FlowSnapshot.objects.get(revision_id=revision_id)

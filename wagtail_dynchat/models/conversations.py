"""Conversations, the flow versions they are pinned to, and their append-only events."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..engine import transcript as transcript_text
from .people import Person, Visitor, new_token


class FlowSnapshot(models.Model):
    """The compiled flow of one published revision of a dialogue.

    Conversations point here rather than at the revision itself, so that purging old revisions
    or deleting a dialogue never breaks a conversation a visitor is still having.
    """

    dialogue = models.ForeignKey(
        "wagtail_dynchat.Dialogue",
        on_delete=models.SET_NULL,
        null=True,
        related_name="snapshots",
    )
    revision_id = models.PositiveBigIntegerField(unique=True)
    title = models.CharField(max_length=80, blank=True)
    flow = models.JSONField()
    # How the revision behaves besides its flow: slug, triggers, audience, repeat (see
    # snapshots.behaviour_of). Pinned with the flow, so each revision answers consistently.
    behaviour = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("flow snapshot")
        verbose_name_plural = _("flow snapshots")

    def __str__(self):
        return f"{self.dialogue_id}@{self.revision_id}"


class Conversation(models.Model):
    """One visitor working through one dialogue, pinned to the revision it started on."""

    STATUS_ACTIVE = "active"
    STATUS_COMPLETED = "completed"
    STATUSES = [(STATUS_ACTIVE, _("Active")), (STATUS_COMPLETED, _("Completed"))]

    public_id = models.CharField(max_length=32, unique=True, default=new_token, editable=False)
    dialogue = models.ForeignKey(
        "wagtail_dynchat.Dialogue",
        on_delete=models.SET_NULL,
        null=True,
        related_name="conversations",
        verbose_name=_("dialogue"),
    )
    snapshot = models.ForeignKey(FlowSnapshot, on_delete=models.PROTECT, related_name="+")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="conversations", verbose_name=_("person")
    )
    site = models.ForeignKey(
        "wagtailcore.Site", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Plain integers, not foreign keys: deleting a page must not delete conversations.
    page_id = models.PositiveBigIntegerField(null=True, blank=True)
    url = models.URLField(_("started on"), max_length=2048, blank=True)
    MODE_CHATBOT = "chatbot"
    MODE_POPUP = "popup"
    MODE_INLINE = "inline"
    MODES = [
        (MODE_CHATBOT, _("Chatbot (triggered)")),
        (MODE_POPUP, _("Pop-up (opened by a link or script)")),
        (MODE_INLINE, _("Inline (embedded in a page)")),
    ]
    # How the dialogue reached the visitor. Inline conversations stay in the page that embeds
    # them; the others follow the visitor from page to page once engaged.
    mode = models.CharField(_("shown as"), max_length=10, choices=MODES, default=MODE_CHATBOT)
    # Visitor facts when the conversation started (referrer, UTM, device …) for Condition cards.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=STATUSES, default=STATUS_ACTIVE)
    state = models.JSONField(default=dict)
    # The input card waiting for the visitor ({"card", "kind"}), or null once completed.
    awaiting = models.JSONField(null=True, blank=True)
    transcript = models.JSONField(default=list)
    # The transcript's visible text, case-folded (engine.transcript.search_text): the admin
    # searches this column instead of walking every transcript's JSON.
    search_text = models.TextField(blank=True, default="", editable=False)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    engaged_at = models.DateTimeField(_("engaged"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-started_at"]
        constraints = [
            # Two tabs triggering the same dialogue at once must share one conversation.
            models.UniqueConstraint(
                fields=["visitor", "dialogue"],
                condition=Q(status="active"),
                name="dynchat_one_active_conversation",
            ),
        ]

    def __str__(self):
        return _("%(dialogue)s with %(person)s") % {
            "dialogue": self.dialogue or _("(deleted dialogue)"),
            "person": self.person,
        }

    def save(self, *args, **kwargs):
        """Save, keeping :attr:`search_text` in step with the transcript."""
        self.search_text = transcript_text.search_text(self.transcript)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "transcript" in update_fields:
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def is_engaged(self):
        return self.engaged_at is not None


class ConversationEvent(models.Model):
    """Something that happened in a conversation. Rows are only ever appended."""

    TRIGGERED = "triggered"
    ENGAGED = "engaged"
    ANSWERED = "answered"
    REJECTED = "rejected"
    CAPTURED = "captured"
    GOAL = "goal"
    DOCUMENT = "document"
    DOCUMENT_OPENED = "document_opened"
    COMPLETED = "completed"
    CLOSED = "closed"
    CONDITION = "condition"
    KINDS = [
        (TRIGGERED, _("Triggered")),
        (ENGAGED, _("Engaged")),
        (ANSWERED, _("Answered")),
        (REJECTED, _("Answer not accepted")),
        (CAPTURED, _("Captured")),
        (GOAL, _("Goal reached")),
        (DOCUMENT, _("Document shown")),
        (DOCUMENT_OPENED, _("Document opened")),
        (CONDITION, _("Condition tested")),
        (COMPLETED, _("Completed")),
        (CLOSED, _("Closed")),
    ]
    # Counted at most once per visitor per session (the product's counting rules).
    ONCE_PER_SESSION = (TRIGGERED, ENGAGED, COMPLETED)

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    # Denormalised for reports, which should not join through conversations.
    dialogue = models.ForeignKey(
        "wagtail_dynchat.Dialogue",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_constraint=False,
    )
    kind = models.CharField(_("event"), max_length=30, choices=KINDS)
    card = models.CharField(_("card"), max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    session = models.CharField(max_length=32, blank=True)
    page_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "kind", "session"],
                condition=Q(kind__in=["triggered", "engaged", "completed"]),
                name="dynchat_event_once_per_session",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"

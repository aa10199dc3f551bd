"""The Marketo outbox: every write to Marketo is first a row here, in the same transaction as the
event that caused it, and a Celery task (:mod:`wagtail_dynchat.marketo.tasks`) drains the rows.

One row per pending write. Writes about the same thing (``dedupe_key``, e.g. one person's lead
record) collapse into one waiting row, so a burst of answers sends the latest values once; a
database constraint keeps at most one waiting row per key.

Custom activities (kind ``activity``, :mod:`wagtail_dynchat.marketo.activities`) are write-once
records, keyed per occurrence; program memberships (``program_member``,
:mod:`wagtail_dynchat.marketo.programs`) are keyed per program, person and status. Both need the
person's Marketo lead id and wait for it (``last_error`` says why) without counting attempts.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxItem(models.Model):
    KIND_LEAD = "lead"
    KIND_ASSOCIATE = "associate"
    KIND_ACTIVITY = "activity"
    KIND_PROGRAM_MEMBER = "program_member"
    KIND_CHOICES = [
        (KIND_LEAD, _("Lead")),
        (KIND_ASSOCIATE, _("Cookie association")),
        (KIND_ACTIVITY, _("Activity")),
        (KIND_PROGRAM_MEMBER, _("Program member")),
    ]

    STATUS_PENDING = "pending"
    STATUS_SENDING = "sending"
    STATUS_DONE = "done"
    STATUS_FAILED = "failed"
    STATUS_DEAD = "dead"
    STATUS_CHOICES = [
        (STATUS_PENDING, _("Pending")),
        (STATUS_SENDING, _("Sending")),
        (STATUS_DONE, _("Done")),
        (STATUS_FAILED, _("Failed, will retry")),
        (STATUS_DEAD, _("Dead")),
    ]
    #: Waiting to be sent (at ``next_attempt_at``).
    WAITING = (STATUS_PENDING, STATUS_FAILED)

    kind = models.CharField(_("kind"), max_length=32, choices=KIND_CHOICES)
    dedupe_key = models.CharField(_("key"), max_length=191)
    payload = models.JSONField(_("payload"), default=dict)
    person = models.ForeignKey(
        "wagtail_dynchat.Person",
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=STATUS_CHOICES, default=STATUS_PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    marketo_id = models.CharField(_("Marketo id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Marketo outbox item")
        verbose_name_plural = _("Marketo outbox items")
        indexes = [
            # The drain: due items of a kind, oldest first.
            models.Index(
                fields=["kind", "next_attempt_at", "id"],
                condition=Q(status__in=["pending", "failed"]),
                name="dynchat_outbox_due",
            ),
            # Lease recovery and the admin's listings.
            models.Index(fields=["status", "claimed_at"], name="dynchat_outbox_status"),
            models.Index(fields=["dedupe_key", "status"], name="dynchat_outbox_key"),
            # Throughput on the sync page, and the purge of items sent long ago.
            models.Index(fields=["status", "updated_at"], name="dynchat_outbox_sent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status__in=["pending", "failed"]),
                name="dynchat_outbox_one_waiting_per_key",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def email(self):
        return (self.payload or {}).get("email", "")

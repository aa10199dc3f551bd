"""Sales agents, their calendars, routing, and the meetings visitors book in the chat.

The logic lives in ``wagtail_dynchat.meetings`` (slots, routing, booking, providers); these models
only hold the state, so the admin stays a thin layer over them.
"""

import datetime
import itertools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.fields import StreamField
from wagtail.models import Orderable

from ..blocks import AudienceBlock
from .people import Person, new_token

WEEKDAYS = ("0", "1", "2", "3", "4", "5", "6")  # Monday … Sunday, as JSON keys


def default_week():
    """Monday to Friday, 09:00 to 12:00 and 13:00 to 17:00."""
    day = [["09:00", "12:00"], ["13:00", "17:00"]]
    return {key: (day if int(key) < 5 else []) for key in WEEKDAYS}


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("“%(value)s” is not a time zone name such as Europe/Berlin."),
            params={"value": value},
            code="invalid_time_zone",
        )


def parse_week(value):
    """``{"0": [["09:00", "12:00"], …], …}`` as ``{0: [(time, time), …], …}``; raises
    ValidationError naming the day for a malformed, reversed or overlapping block."""
    if not isinstance(value, dict):
        raise ValidationError(_("The weekly availability is not a week."), code="invalid_week")
    week = {}
    for key in WEEKDAYS:
        blocks = []
        for block in value.get(key) or []:
            try:
                start, end = (datetime.time.fromisoformat(part) for part in block)
            except (TypeError, ValueError):
                raise ValidationError(
                    _("Day %(day)s: write each block as two times such as 09:00 and 12:00."),
                    params={"day": int(key) + 1},
                    code="invalid_block",
                ) from None
            if start >= end:
                raise ValidationError(
                    _("Day %(day)s: a block must end after it starts (split blocks at midnight)."),
                    params={"day": int(key) + 1},
                    code="reversed_block",
                )
            blocks.append((start, end))
        blocks.sort()
        for before, after in itertools.pairwise(blocks):
            if after[0] < before[1]:
                raise ValidationError(
                    _("Day %(day)s: two blocks overlap."),
                    params={"day": int(key) + 1},
                    code="overlapping_blocks",
                )
        week[int(key)] = blocks
    return week


class Agent(models.Model):
    """A Wagtail user who takes meetings: their availability and how they like to be booked."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="dynchat_agent",
        verbose_name=_("user"),
    )
    display_name = models.CharField(
        _("name shown to visitors"),
        max_length=120,
        blank=True,
        help_text=_("Blank uses the user's full name."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    availability = models.JSONField(
        _("weekly availability"),
        default=default_week,
        help_text=_("Blocks of working hours per weekday, in the agent's time zone."),
    )
    meeting_minutes = models.PositiveSmallIntegerField(_("meeting length (minutes)"), default=30)
    buffer_minutes = models.PositiveSmallIntegerField(
        _("buffer after meetings (minutes)"), default=0
    )
    min_notice_hours = models.PositiveSmallIntegerField(_("minimum notice (hours)"), default=24)
    horizon_days = models.PositiveSmallIntegerField(_("booking horizon (days)"), default=14)
    daily_cap = models.PositiveSmallIntegerField(
        _("meetings per day at most"), null=True, blank=True
    )
    invitation = models.TextField(
        _("invitation text"),
        blank=True,
        help_text=_(
            "The calendar invitation's description; tokens such as {{ person.first_name }} and "
            "{{ person.company }} work. A meeting card's own text wins."
        ),
    )
    online_meeting = models.BooleanField(
        _("add a video call link"),
        default=True,
        help_text=_("A Google Meet or Microsoft Teams link, by the agent's calendar."),
    )
    active = models.BooleanField(
        _("takes meetings"),
        default=True,
        help_text=_("Off takes the agent out of every queue without disconnecting the calendar."),
    )
    last_booked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("calendar agent")
        verbose_name_plural = _("calendar agents")
        permissions = [("take_meetings", _("Can connect a calendar and take meetings"))]

    def __str__(self):
        return self.name

    @property
    def name(self):
        return self.display_name or self.user.get_full_name() or self.user.get_username()

    def clean(self):
        super().clean()
        try:
            parse_week(self.availability)
        except ValidationError as error:
            raise ValidationError({"availability": error}) from None
        if not 5 <= self.meeting_minutes <= 480:
            raise ValidationError(
                {"meeting_minutes": _("A meeting lasts between 5 minutes and 8 hours.")}
            )


class CalendarConnection(models.Model):
    """An agent's one connected calendar. Tokens are encrypted at rest (see meetings.tokens)."""

    GOOGLE = "google"
    MICROSOFT = "microsoft"
    PROVIDERS = [(GOOGLE, _("Google Calendar")), (MICROSOFT, _("Microsoft Outlook"))]

    CONNECTED = "connected"
    NEEDS_REAUTH = "needs_reauth"
    STATUSES = [
        (CONNECTED, _("Connected")),
        (NEEDS_REAUTH, _("Needs to sign in again")),
    ]

    agent = models.OneToOneField(
        Agent, on_delete=models.CASCADE, related_name="connection", verbose_name=_("agent")
    )
    provider = models.CharField(_("provider"), max_length=20, choices=PROVIDERS)
    account = models.EmailField(_("calendar account"))
    calendar_id = models.CharField(max_length=255, default="primary")
    encrypted_tokens = models.BinaryField()
    status = models.CharField(_("status"), max_length=20, choices=STATUSES, default=CONNECTED)
    status_message = models.TextField(_("last problem"), blank=True)
    connected_at = models.DateTimeField(_("connected"), auto_now_add=True)
    checked_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar connection")
        verbose_name_plural = _("calendar connections")

    def __str__(self):
        return f"{self.account} ({self.get_provider_display()})"

    @property
    def usable(self):
        return self.status == self.CONNECTED


class MeetingQueue(ClusterableModel):
    """Agents who share meetings, in order."""

    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    LEAST_RECENT = "least_recent"
    STRATEGIES = [
        (ROUND_ROBIN, _("Round robin: the next agent in order")),
        (WEIGHTED, _("Weighted: agents take meetings in proportion to their weight")),
        (LEAST_RECENT, _("Least recently booked first")),
    ]

    name = models.CharField(_("name"), max_length=120, unique=True)
    strategy = models.CharField(
        _("how the next agent is chosen"), max_length=20, choices=STRATEGIES, default=ROUND_ROBIN
    )
    last_agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        verbose_name = _("meeting queue")
        verbose_name_plural = _("meeting queues")

    def __str__(self):
        return self.name


class QueueMember(Orderable):
    queue = ParentalKey(MeetingQueue, on_delete=models.CASCADE, related_name="members")
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="+", verbose_name=_("agent")
    )
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    booked = models.PositiveIntegerField(default=0, editable=False)

    class Meta(Orderable.Meta):
        verbose_name = _("queue member")
        constraints = [
            models.UniqueConstraint(fields=["queue", "agent"], name="dynchat_queue_agent_once"),
        ]


class RoutingRule(models.Model):
    """Visitors matching the audience go to the rule's queue; the first rule by priority wins."""

    name = models.CharField(_("name"), max_length=120)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=50, help_text=_("Higher is tried first.")
    )
    audience = StreamField(
        [("audience", AudienceBlock())],
        max_num=1,
        verbose_name=_("audience"),
        help_text=_("Person, company and visitor attributes that send a visitor here."),
    )
    queue = models.ForeignKey(
        MeetingQueue, on_delete=models.CASCADE, related_name="rules", verbose_name=_("queue")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["-priority", "pk"]

    def __str__(self):
        return self.name

    def compile_audience(self):
        """The audience rules as the engine reads them (None: everyone)."""
        for child in self.audience:
            return child.block.compile(child.value)
        return None


class Account(models.Model):
    """A company owned by an agent: its people are booked with that agent first."""

    name = models.CharField(_("company"), max_length=255, blank=True)
    domain = models.CharField(
        _("e-mail domain"),
        max_length=253,
        blank=True,
        help_text=_("People whose e-mail address ends in @domain belong to the account."),
    )
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="accounts", verbose_name=_("owner")
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["domain"], condition=~Q(domain=""), name="dynchat_account_unique_domain"
            ),
            models.CheckConstraint(
                condition=~Q(name="", domain=""), name="dynchat_account_name_or_domain"
            ),
        ]

    def __str__(self):
        return self.name or self.domain


class Meeting(models.Model):
    """A meeting booked in the chat. Reserved in the database first, then created in the agent's
    calendar by a Celery task (status pending until then)."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    FAILED = "failed"
    STATUSES = [
        (PENDING, _("Being booked")),
        (SCHEDULED, _("Scheduled")),
        (RESCHEDULED, _("Rescheduled")),
        (CANCELLED, _("Cancelled")),
        (COMPLETED, _("Completed")),
        (NO_SHOW, _("No-show")),
        (FAILED, _("Booking failed")),
    ]
    # The statuses that hold the agent's time.
    HOLDING = (PENDING, SCHEDULED, RESCHEDULED)
    # Wagtail's reference index would cost each booking milliseconds inside the queue's lock.
    wagtail_reference_index_ignore = True

    public_id = models.CharField(max_length=32, unique=True, default=new_token, editable=False)
    agent = models.ForeignKey(
        Agent, on_delete=models.PROTECT, related_name="meetings", verbose_name=_("agent")
    )
    person = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="meetings",
        verbose_name=_("person"),
    )
    conversation = models.ForeignKey(
        "wagtail_dynchat.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="meetings",
        verbose_name=_("conversation"),
    )
    dialogue = models.ForeignKey(
        "wagtail_dynchat.Dialogue",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dialogue"),
    )
    page_url = models.URLField(_("page"), max_length=2048, blank=True)
    email = models.EmailField(_("booked by"))
    starts_at = models.DateTimeField(_("scheduled for"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(_("status"), max_length=20, choices=STATUSES, default=PENDING)
    provider_event_id = models.CharField(max_length=1024, blank=True)
    # Our idempotency key with the provider (Google event id / Graph transactionId).
    event_key = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    invitation = models.TextField(_("invitation text"), blank=True)
    online_meeting = models.BooleanField(default=True)
    answers = models.JSONField(_("the visitor's answers"), default=list, blank=True)
    routing_log = models.JSONField(_("routing decision"), default=dict, blank=True)
    problem = models.TextField(_("last problem"), blank=True)
    created_at = models.DateTimeField(_("booked"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["-starts_at"]
        constraints = [
            # One agent, one slot: the database refuses a second booking however many
            # requests race for it.
            models.UniqueConstraint(
                fields=["agent", "starts_at"],
                condition=Q(status__in=("pending", "scheduled", "rescheduled")),
                name="dynchat_meeting_one_per_agent_slot",
            ),
        ]

    def __str__(self):
        return f"{self.email}, {self.agent}, {self.starts_at:%Y-%m-%d %H:%M}"

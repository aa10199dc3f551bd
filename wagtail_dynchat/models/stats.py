"""Daily rollups of conversation events, which reports read instead of the raw events.

One row per local day (``WAGTAIL_DYNCHAT["TIME_ZONE"]`` or ``settings.TIME_ZONE``) and
combination of the dimensions reports filter on. Dimensions are plain integers rather than
foreign keys: deleting a dialogue, page, site or locale must neither delete nor block the
history. ``translation_key`` is copied from the dialogue so that its translations add up, even
once the dialogue is gone. Rows of a day are rewritten as a whole by
:func:`wagtail_dynchat.reports.rollup.rollup_day`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RollupDimensions(models.Model):
    """The dimensions every rollup shares (what reports filter on)."""

    day = models.DateField(_("day"))
    dialogue_id = models.BigIntegerField(_("dialogue"), null=True, blank=True)
    translation_key = models.UUIDField(null=True, blank=True)
    site_id = models.BigIntegerField(_("site"), null=True, blank=True)
    locale_id = models.BigIntegerField(_("locale"), null=True, blank=True)
    # Whether the person had an e-mail address when the day was rolled up.
    known = models.BooleanField(_("known visitor"), default=False)

    class Meta:
        abstract = True


class DailyStats(RollupDimensions):
    """The headline counters of a day, per dialogue, site, locale, page and visitor type."""

    page_id = models.BigIntegerField(_("page"), null=True, blank=True)
    triggered = models.PositiveIntegerField(_("triggered"), default=0)
    engaged = models.PositiveIntegerField(_("engaged"), default=0)
    completed = models.PositiveIntegerField(_("completed"), default=0)
    people_acquired = models.PositiveIntegerField(_("people acquired"), default=0)
    meetings_booked = models.PositiveIntegerField(_("meetings booked"), default=0)
    goals_reached = models.PositiveIntegerField(_("goals reached"), default=0)
    documents_opened = models.PositiveIntegerField(_("documents opened"), default=0)

    class Meta:
        verbose_name = _("daily statistics")
        verbose_name_plural = _("daily statistics")
        # The reports' one permission (the dashboard, the report views and their exports).
        permissions = [("view_reports", _("Can view Dynamic Chat reports"))]
        indexes = [
            models.Index(fields=["day"], name="dynchat_stats_day"),
            models.Index(fields=["translation_key", "day"], name="dynchat_stats_dialogue"),
            models.Index(fields=["site_id", "day"], name="dynchat_stats_site"),
            models.Index(fields=["page_id", "day"], name="dynchat_stats_page"),
        ]

    def __str__(self):
        return f"{self.day} #{self.dialogue_id}"


class DailyCardStats(RollupDimensions):
    """The funnel of a dialogue: per card, how many conversations reached, answered and left
    it (``dropped``: it was the last card shown and the visitor went idle without completing)."""

    card = models.CharField(_("card"), max_length=64)
    reached = models.PositiveIntegerField(_("reached"), default=0)
    answered = models.PositiveIntegerField(_("answered"), default=0)
    dropped = models.PositiveIntegerField(_("dropped"), default=0)

    class Meta:
        verbose_name = _("daily card statistics")
        verbose_name_plural = _("daily card statistics")
        indexes = [
            models.Index(fields=["day"], name="dynchat_cardstats_day"),
            models.Index(fields=["translation_key", "day"], name="dynchat_cardstats_dialogue"),
        ]

    def __str__(self):
        return f"{self.day} #{self.dialogue_id}"


class DailyChoiceStats(RollupDimensions):
    """How often each choice of a question card was picked."""

    card = models.CharField(_("card"), max_length=64)
    value = models.CharField(_("stored value"), max_length=255)
    label = models.CharField(_("label"), max_length=255, blank=True)
    count = models.PositiveIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("daily choice statistics")
        verbose_name_plural = _("daily choice statistics")
        indexes = [
            models.Index(fields=["day"], name="dynchat_choicestats_day"),
            models.Index(fields=["translation_key", "day"], name="dynchat_choicestats_dialogue"),
        ]

    def __str__(self):
        return f"{self.day} #{self.dialogue_id}"


class DailyGoalStats(RollupDimensions):
    """Goals reached, per goal (its name, and the goal card that reached it)."""

    page_id = models.BigIntegerField(_("page"), null=True, blank=True)
    goal = models.CharField(_("goal"), max_length=255)
    card = models.CharField(_("card"), max_length=64, blank=True)
    count = models.PositiveIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("daily goal statistics")
        verbose_name_plural = _("daily goal statistics")
        indexes = [
            models.Index(fields=["day"], name="dynchat_goalstats_day"),
            models.Index(fields=["translation_key", "day"], name="dynchat_goalstats_dialogue"),
        ]

    def __str__(self):
        return f"{self.day} #{self.dialogue_id}"


class DailyMeetingStats(RollupDimensions):
    """Meetings booked in the chat (counted on the day they were booked), per agent."""

    page_id = models.BigIntegerField(_("page"), null=True, blank=True)
    agent_id = models.BigIntegerField(_("agent"), null=True, blank=True)
    booked = models.PositiveIntegerField(_("booked"), default=0)
    # Of those, the ones cancelled by the time the day was rolled up.
    cancelled = models.PositiveIntegerField(_("cancelled"), default=0)

    class Meta:
        verbose_name = _("daily meeting statistics")
        verbose_name_plural = _("daily meeting statistics")
        indexes = [
            models.Index(fields=["day"], name="dynchat_meetingstats_day"),
            models.Index(fields=["agent_id", "day"], name="dynchat_meetingstats_agent"),
        ]

    def __str__(self):
        return f"{self.day} #{self.dialogue_id}"


class RollupDay(models.Model):
    """A day whose rollups have been computed, and how: reports tell days not rolled up yet
    apart from days without traffic."""

    day = models.DateField(_("day"), unique=True)
    computed_at = models.DateTimeField(_("computed"))
    events = models.PositiveIntegerField(_("events read"), default=0)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("rolled-up day")
        verbose_name_plural = _("rolled-up days")
        ordering = ["-day"]

    def __str__(self):
        return str(self.day)


class RetentionMark(models.Model):
    """How far a purge has got, so the next run starts there rather than rescanning what is
    kept (goal events outlive other events, and would otherwise be re-read every night)."""

    name = models.CharField(max_length=64, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("retention mark")
        verbose_name_plural = _("retention marks")

    def __str__(self):
        return f"{self.name}={self.position}"

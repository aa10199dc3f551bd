"""What the Marketo integration keeps: the mapped fields, sync runs and custom activity types."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MarketoField(models.Model):
    """A Marketo person or company field chosen by an admin (at most 50 per object).

    A mapped person field becomes a person field named ``name`` (a targeting and condition
    attribute, a personalisation token and a capture target); a company field becomes the
    attribute ``company.<name>``. Lead fields that match a built-in person field (``email``,
    ``firstName``…) are stored in that column; the others in ``Person.attributes[name]``.
    """

    OBJECT_LEAD = "lead"
    OBJECT_COMPANY = "company"
    OBJECT_CHOICES = [(OBJECT_LEAD, _("Person")), (OBJECT_COMPANY, _("Company"))]
    #: Marketo's documented limit for one mapping is ours: 50 fields per object.
    MAX_PER_OBJECT = 50

    object = models.CharField(_("object"), max_length=16, choices=OBJECT_CHOICES)
    rest_name = models.CharField(_("Marketo field (REST name)"), max_length=100)
    name = models.CharField(_("name in dialogues"), max_length=100)
    label = models.CharField(_("label"), max_length=255)
    data_type = models.CharField(_("Marketo data type"), max_length=32)
    length = models.PositiveIntegerField(_("length"), null=True, blank=True)
    read_only = models.BooleanField(_("read-only in Marketo"), default=False)
    write_back = models.BooleanField(
        _("write answers back"),
        default=True,
        help_text=_("Values visitors give in chat are written to this Marketo field."),
    )
    sort_order = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("Marketo field")
        verbose_name_plural = _("Marketo fields")
        ordering = ["object", "sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["object", "rest_name"], name="dynchat_marketo_field_unique_rest"
            ),
            models.UniqueConstraint(
                fields=["object", "name"], name="dynchat_marketo_field_unique_name"
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.rest_name})"


class SyncRun(models.Model):
    """One initial or incremental sync from Marketo, and how far it got (it resumes from here).

    An initial sync walks ``[range_start, range_end)`` in windows of at most 31 days; ``cursor``
    is the start of the first window not yet loaded, and ``export_id``, ``bytes_done`` and
    ``rows_in_window`` describe the window in progress, so that a restart continues its file
    with a Range request.
    An incremental sync records the ``since`` it started from and Marketo's paging token.
    """

    KIND_INITIAL = "initial"
    KIND_INCREMENTAL = "incremental"
    KIND_CHOICES = [(KIND_INITIAL, _("Initial")), (KIND_INCREMENTAL, _("Incremental"))]

    STATUS_RUNNING = "running"
    STATUS_DONE = "done"
    STATUS_FAILED = "failed"
    STATUS_CANCELLED = "cancelled"
    STATUS_CHOICES = [
        (STATUS_RUNNING, _("Running")),
        (STATUS_DONE, _("Done")),
        (STATUS_FAILED, _("Failed")),
        (STATUS_CANCELLED, _("Cancelled")),
    ]

    kind = models.CharField(_("kind"), max_length=16, choices=KIND_CHOICES)
    status = models.CharField(
        _("status"), max_length=16, choices=STATUS_CHOICES, default=STATUS_RUNNING
    )
    range_start = models.DateTimeField(_("from"), null=True, blank=True)
    range_end = models.DateTimeField(_("to"), null=True, blank=True)
    cursor = models.DateTimeField(_("next window"), null=True, blank=True)
    windows_total = models.PositiveIntegerField(_("windows"), default=0)
    windows_done = models.PositiveIntegerField(_("windows done"), default=0)
    rows = models.BigIntegerField(_("rows"), default=0)
    export_id = models.CharField(_("bulk export id"), max_length=64, blank=True)
    export_status = models.CharField(_("bulk export status"), max_length=32, blank=True)
    bytes_done = models.BigIntegerField(_("bytes of the file loaded"), default=0)
    rows_in_window = models.BigIntegerField(_("rows of the window loaded"), default=0)
    since = models.DateTimeField(_("changes since"), null=True, blank=True)
    paging_token = models.CharField(_("paging token"), max_length=255, blank=True)
    state = models.JSONField(_("state"), default=dict, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("Marketo sync run")
        verbose_name_plural = _("Marketo sync runs")
        ordering = ["-started_at", "-pk"]
        get_latest_by = "started_at"
        constraints = [
            # One run of each kind at a time: a second "start" resumes the running one.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(status="running"),
                name="dynchat_syncrun_one_running_per_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} sync #{self.pk} ({self.get_status_display()})"


class MarketoActivityType(models.Model):
    """A custom activity type created in Marketo by ``dynchat_marketo_setup``.

    ``key`` is ours ("engaged", "goal", "meeting", "document"); ``type_id`` is the id Marketo
    gave it, needed to add activities of the type.
    """

    key = models.CharField(_("key"), max_length=32, unique=True)
    api_name = models.CharField(_("API name"), max_length=100)
    name = models.CharField(_("name"), max_length=255)
    type_id = models.PositiveIntegerField(_("Marketo type id"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=32, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Marketo activity type")
        verbose_name_plural = _("Marketo activity types")

    def __str__(self):
        return f"{self.name} ({self.api_name})"

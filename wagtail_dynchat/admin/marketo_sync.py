"""The admin's "Marketo" page: how the integration is doing, in one place.

- Outbox: depth per kind and status, the age of the oldest waiting item, throughput, the latest
  distinct errors and the dead letters, with Retry, Retry all dead and Test connection.
- API usage against the budget: the shared limiter's figures
  (:func:`wagtail_dynchat.marketo.limits.usage`), with a warning from 80 % of the daily quota.
- Sync: the latest initial and incremental run with its progress, Start / Resume / Cancel of the
  initial sync (through :mod:`wagtail_dynchat.marketo.sync`), and the custom activity types.

The page and every action need the change permission on outbox items, like the outbox page this
page grew from; that page's address (``wagtail_dynchat_outbox:index``) still answers: a GET is
sent here, a POST (retry, test) does what it did.
"""

import datetime
import importlib
import re

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.timesince import timeuntil
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin

from ..marketo.outbox import is_configured
from ..models import MarketoActivityType, OutboxItem, SyncRun
from . import outbox

NAMESPACE = "wagtail_dynchat_marketo_sync"
LEGACY_NAMESPACE = "wagtail_dynchat_outbox"
#: Where the other Marketo admin page may be registered; the first that exists is linked.
FIELDS_URL_NAMES = ("wagtail_dynchat_marketo_fields:index", "wagtail_dynchat_admin:marketo_fields")
#: Database ids are 64-bit: a longer number is no id of ours (and would overflow a query).
ID_PATTERN = re.compile(r"[0-9]{1,18}")


def _url(name, *args):
    return reverse(f"{NAMESPACE}:{name}", args=args)


def sync_service():
    """:mod:`wagtail_dynchat.marketo.sync`, or None in an installation without it."""
    name = "wagtail_dynchat.marketo.sync"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:  # the module exists but something it imports is missing
            raise
        return None


def fields_page_url():
    """The "Marketo fields" page's address, or "" when it is not installed."""
    for name in FIELDS_URL_NAMES:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


def marketo_configured():
    """The REST base address and the client credentials are all set."""
    from ..marketo.client import MarketoClient

    return MarketoClient().is_configured()


def parse_id(value):
    """A database id from form or URL text, or None."""
    value = str(value).strip()
    return int(value) if ID_PATTERN.fullmatch(value) else None


class MarketoAdminView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """Common ground of the page and its actions: permission, breadcrumbs, readable refusals."""

    permission_policy = outbox.permission_policy
    permission_required = "change"
    page_title = _("Marketo")
    header_icon = "resubmit"
    http_method_names = ["get"]
    #: A page under the Marketo page (its breadcrumbs lead back there).
    subpage = True

    def dispatch(self, request, *args, **kwargs):
        # A plain 403 page rather than Wagtail's redirect to the dashboard: a script or a
        # bookmarked action learns it was refused, and why.
        if not self.user_has_permission(self.permission_required):
            return self.refuse(
                403, gettext("Sorry, you need the permission to change Marketo outbox items.")
            )
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        items = [*self.breadcrumbs_items]
        if self.subpage:
            items.append({"url": _url("index"), "label": MarketoSyncView.page_title})
        return [*items, {"url": "", "label": self.page_title}]

    def refuse(self, status, message):
        """An admin page saying why the request was refused, with ``status``."""
        context = self.get_context_data(
            message=message, back_url=_url("index"), back_label=gettext("Back to the Marketo page")
        )
        return TemplateResponse(
            self.request, "wagtail_dynchat/admin/refused.html", context, status=status
        )

    def back(self, anchor=""):
        return redirect(_url("index") + (f"#{anchor}" if anchor else ""))


class MarketoSyncView(MarketoAdminView):
    template_name = "wagtail_dynchat/admin/marketo_sync/index.html"
    subpage = False

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        configured = marketo_configured()
        depth_rows, depth_total = outbox.depth()
        dead, dead_count = outbox.dead_letters()
        context.update(
            configured=configured,
            statuses=[dict(OutboxItem.STATUS_CHOICES)[s] for s in outbox.DEPTH_STATUSES],
            depth_rows=depth_rows,
            depth_total=depth_total,
            throughput=outbox.throughput(),
            errors=outbox.last_errors(),
            items=dead,
            items_count=dead_count,
            dead_count=dict(depth_total["cells"])[OutboxItem.STATUS_DEAD],
            fields_url=fields_page_url(),
            activity_types=list(MarketoActivityType.objects.order_by("key")),
            urls={
                "retry": _url("retry"),
                "test": _url("test_connection"),
                "start": _url("start_sync"),
            },
        )
        if configured:
            context.update(self.usage_context())
            context.update(sync_context())
        return context

    def usage_context(self):
        from ..marketo import limits

        try:
            usage = limits.usage()
        except ValueError as error:  # RATE_CALLS < 1 and the like; the system checks say so too
            return {"usage": None, "usage_error": str(error)}
        return {"usage": usage, "usage_error": ""}


def sync_context(now=None):
    """The latest run of each kind with its progress, for the sync section."""
    now = now or timezone.now()
    service = sync_service()
    runs = []
    for kind, label in SyncRun.KIND_CHOICES:
        run = SyncRun.objects.filter(kind=kind).order_by("-started_at", "-pk").first()
        entry = {"kind": kind, "label": label, "run": run, "progress": None}
        if run is not None:
            progress = service.progress(run) if service else stored_progress(run)
            entry["progress"] = describe_progress(progress, now)
        runs.append(entry)
    initial = next((e["run"] for e in runs if e["kind"] == SyncRun.KIND_INITIAL), None)
    running = initial is not None and initial.status == SyncRun.STATUS_RUNNING
    return {
        "sync_available": service is not None,
        "sync_runs": runs,
        "initial_running": running,
        "cancel_url": _url("cancel_sync", initial.pk) if running else "",
    }


def stored_progress(run):
    """What a run records of its progress, for installations without the sync service."""
    return {
        "windows_done": run.windows_done,
        "windows_total": run.windows_total,
        "rows": run.rows,
        "rows_per_second": None,
        "eta_seconds": None,
        "status": run.status,
        "last_error": run.last_error,
    }


def describe_progress(progress, now):
    """The progress dict with what the template shows: percentage, status label, ETA in words."""
    done, total = progress.get("windows_done") or 0, progress.get("windows_total") or 0
    eta = progress.get("eta_seconds")
    status = progress.get("status") or ""
    percent = progress.get("percent")  # the service may count the window in progress too
    return {
        **progress,
        "windows_done": done,
        "windows_total": total,
        "percent": (percent if percent is not None else 100 * done / total) if total else None,
        "status_label": dict(SyncRun.STATUS_CHOICES).get(status, status),
        "eta_text": (
            timeuntil(now + datetime.timedelta(seconds=eta), now)
            if eta is not None and eta >= 1
            else ""
        ),
    }


class RetryView(MarketoAdminView):
    """POST: retry the checked items (``item``), one item (``only``) or every dead one
    (``all=dead``)."""

    page_title = _("Retry outbox items")
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        if "all" in request.POST:
            if request.POST["all"] != "dead":
                return self.refuse(400, gettext("Only dead items can be retried all at once."))
            return self.done(outbox.retry_all_dead())
        raw = [request.POST["only"]] if "only" in request.POST else request.POST.getlist("item")
        ids = [parse_id(value) for value in raw]
        if None in ids:
            return self.refuse(400, gettext("An outbox item was given without a valid id."))
        if not ids:
            messages.warning(request, gettext("Select the items to retry."))
            return self.back("dead-letters")
        if len(ids) > outbox.LIMIT:  # the page lists no more; "retry all dead" has no limit
            return self.refuse(
                400,
                gettext("At most %(limit)d items can be retried at a time.")
                % {"limit": outbox.LIMIT},
            )
        found = set(OutboxItem.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            return self.refuse(
                404,
                ngettext(
                    "There is no outbox item %(ids)s (it may have been sent and merged since).",
                    "There are no outbox items %(ids)s (they may have been sent and merged since).",
                    len(missing),
                )
                % {"ids": ", ".join(f"#{pk}" for pk in missing)},
            )
        return self.done(outbox.retry(ids))

    def done(self, count):
        if count:
            messages.success(
                self.request,
                ngettext("%(count)d item queued again.", "%(count)d items queued again.", count)
                % {"count": count},
            )
        else:
            messages.warning(self.request, gettext("Nothing to retry."))
        return self.back("dead-letters")


class TestConnectionView(MarketoAdminView):
    """POST: one call to Marketo, its answer as a message."""

    page_title = _("Test connection")
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        outbox.test_connection(request)
        return self.back()


class StartSyncForm(forms.Form):
    since = forms.DateField(
        label=_("Changes since"),
        required=False,
        help_text=_(
            "Optional: load only people created or updated from this day on (YYYY-MM-DD, "
            "UTC). Leave it empty to start from WAGTAIL_DYNCHAT['MARKETO']['SYNC_SINCE']."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since and since > timezone.localdate():
            raise forms.ValidationError(gettext("The day cannot be in the future."))
        return since


class StartSyncView(MarketoAdminView):
    """GET: what an initial sync does, and a form to start it; POST: start it, or resume the
    running one."""

    page_title = _("Start the initial sync")
    template_name = "wagtail_dynchat/admin/marketo_sync/start_sync.html"
    http_method_names = ["get", "post"]

    @cached_property
    def service(self):
        return sync_service()

    def unavailable(self):
        if not marketo_configured():
            return self.refuse(
                400, gettext("Marketo is not configured: set WAGTAIL_DYNCHAT['MARKETO'] first.")
            )
        if self.service is None:
            return self.refuse(404, gettext("This installation has no initial sync."))
        return None

    def get(self, request, *args, **kwargs):
        return self.unavailable() or self.render_to_response(
            self.get_context_data(form=StartSyncForm())
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["running"] = (
            SyncRun.objects.filter(kind=SyncRun.KIND_INITIAL, status=SyncRun.STATUS_RUNNING)
            .order_by("-pk")
            .first()
        )
        context["action_url"] = _url("start_sync")
        context["back_url"] = _url("index")
        return context

    def post(self, request, *args, **kwargs):
        refused = self.unavailable()
        if refused:
            return refused
        form = StartSyncForm(request.POST)
        if not form.is_valid():
            context = self.get_context_data(form=form)
            return self.render_to_response(context, status=400)
        was_running = SyncRun.objects.filter(
            kind=SyncRun.KIND_INITIAL, status=SyncRun.STATUS_RUNNING
        ).exists()
        try:
            run = self.service.start_initial_sync(since=form.cleaned_data["since"])
        except getattr(self.service, "SyncError", ()) as error:  # e.g. a start in the future
            return self.refuse(400, str(error))
        if was_running:
            message = gettext("Initial sync #%(id)d resumed.")
        else:
            message = gettext("Initial sync #%(id)d started.")
        messages.success(request, message % {"id": run.pk})
        return self.back("sync")


class CancelSyncView(MarketoAdminView):
    """GET: ask for confirmation; POST: cancel the running initial sync ``pk``."""

    page_title = _("Cancel the initial sync")
    template_name = "wagtail_dynchat/admin/marketo_sync/cancel_sync.html"
    http_method_names = ["get", "post"]

    @cached_property
    def run(self):
        pk = parse_id(self.kwargs["pk"])
        return SyncRun.objects.filter(pk=pk).first() if pk is not None else None

    def missing(self):
        if self.run is None:
            return self.refuse(404, gettext("There is no such sync run."))
        if sync_service() is None:
            return self.refuse(404, gettext("This installation has no initial sync."))
        return None

    def get(self, request, *args, **kwargs):
        return self.missing() or self.render_to_response(self.get_context_data())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["run"] = self.run
        context["action_url"] = _url("cancel_sync", self.run.pk) if self.run else ""
        context["back_url"] = _url("index")
        return context

    def post(self, request, *args, **kwargs):
        refused = self.missing()
        if refused:
            return refused
        if self.run.status != SyncRun.STATUS_RUNNING:
            messages.warning(
                request,
                gettext("Sync #%(id)d is not running (%(status)s): nothing to cancel.")
                % {"id": self.run.pk, "status": self.run.get_status_display()},
            )
            return self.back("sync")
        sync_service().cancel_sync(self.run)
        messages.success(request, gettext("Sync #%(id)d cancelled.") % {"id": self.run.pk})
        return self.back("sync")


class LegacyOutboxView(MarketoAdminView):
    """The outbox page's old address: GET comes here; its forms' POSTs still work."""

    subpage = False
    http_method_names = ["get", "post"]

    def get(self, request, *args, **kwargs):
        return self.back("outbox")

    def post(self, request, *args, **kwargs):
        if "test" in request.POST:
            return TestConnectionView.as_view()(request)
        return RetryView.as_view()(request)


def get_urls():
    return [
        path("", MarketoSyncView.as_view(), name="index"),
        path("outbox/retry/", RetryView.as_view(), name="retry"),
        path("test-connection/", TestConnectionView.as_view(), name="test_connection"),
        path("sync/start/", StartSyncView.as_view(), name="start_sync"),
        path("sync/<str:pk>/cancel/", CancelSyncView.as_view(), name="cancel_sync"),
    ]


def get_legacy_urls():
    return [path("", LegacyOutboxView.as_view(), name="index")]


class MarketoMenuItem(MenuItem):
    """Shown when Marketo is configured (or outbox items are left over from when it was)."""

    def is_shown(self, request):
        if not outbox.permission_policy.user_has_permission(request.user, "change"):
            return False
        return is_configured() or OutboxItem.objects.exists()


def menu_item():
    return MarketoMenuItem(
        _("Marketo"),
        _url("index"),
        name="dynchat-marketo",
        icon_name="resubmit",
        order=900,
    )

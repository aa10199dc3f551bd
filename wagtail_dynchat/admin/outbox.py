"""The Marketo outbox's dead letters in the admin: dead and failed items with their errors, and a
Retry button that puts them back in the queue and starts a drain.

Only users with the change permission on outbox items (and superusers) see the page.
"""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.permission_policies import ModelPermissionPolicy

from ..marketo.outbox import is_configured, schedule_drain
from ..marketo.tasks import _requeue
from ..models import OutboxItem

permission_policy = ModelPermissionPolicy(OutboxItem)
LISTED = (OutboxItem.STATUS_DEAD, OutboxItem.STATUS_FAILED)
LIMIT = 500


class OutboxView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    permission_policy = permission_policy
    permission_required = "change"
    template_name = "wagtail_dynchat/admin/outbox/index.html"
    page_title = _("Marketo outbox")
    header_icon = "warning"
    http_method_names = ["get", "post"]

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.page_title}]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        items = OutboxItem.objects.filter(status__in=LISTED).order_by("-updated_at", "-pk")
        context["items"] = items[:LIMIT]
        context["pending_count"] = OutboxItem.objects.filter(
            status__in=(OutboxItem.STATUS_PENDING, OutboxItem.STATUS_SENDING)
        ).count()
        return context

    def post(self, request, *args, **kwargs):
        if "test" in request.POST:
            test_connection(request)
            return redirect("wagtail_dynchat_outbox:index")
        ids = [int(pk) for pk in request.POST.getlist("item") if pk.isdigit()]
        if request.POST.get("only", "").isdigit():
            ids = [int(request.POST["only"])]
        elif request.POST.get("all") == "dead":
            ids = list(
                OutboxItem.objects.filter(status=OutboxItem.STATUS_DEAD).values_list(
                    "pk", flat=True
                )
            )
        count = retry(ids)
        if count:
            messages.success(
                request,
                ngettext("%(count)d item queued again.", "%(count)d items queued again.", count)
                % {"count": count},
            )
        else:
            messages.warning(request, _("Nothing to retry."))
        return redirect("wagtail_dynchat_outbox:index")


def test_connection(request):
    """Ask Marketo for its lead fields and tell the admin what came back, in words."""
    from ..marketo.client import MarketoClient
    from ..marketo.errors import AuthError, MarketoError

    client = MarketoClient()
    if not client.is_configured():
        messages.warning(request, _("Marketo is not configured (WAGTAIL_DYNCHAT['MARKETO'])."))
        return
    try:
        fields = client.describe_leads()
    except AuthError as error:
        messages.error(
            request,
            _("Marketo refused the credentials: %(error)s") % {"error": error.message},
        )
    except MarketoError as error:
        messages.error(
            request,
            _("Marketo answered with error %(code)s: %(error)s")
            % {"code": error.code, "error": error.message},
        )
    except Exception as error:  # a wrong host, TLS, DNS: say so rather than a 500
        messages.error(request, _("Marketo could not be reached: %(error)s") % {"error": error})
    else:
        messages.success(
            request,
            _("Connected to Marketo: %(count)d lead fields available.") % {"count": len(fields)},
        )


def retry(ids):
    """Put dead/failed items back to pending, due now, with a fresh attempt count; drain."""
    count = 0
    kinds = set()
    with transaction.atomic():
        items = OutboxItem.objects.select_for_update().filter(pk__in=ids, status__in=LISTED)
        for item in items:
            _requeue(item, OutboxItem.STATUS_PENDING, timezone.now(), item.last_error, attempts=0)
            kinds.add(item.kind)
            count += 1
        for kind in kinds:
            schedule_drain(kind)
    return count


def get_urls():
    return [path("", OutboxView.as_view(), name="index")]


class OutboxMenuItem(MenuItem):
    """Shown when Marketo is configured (or items are left over from when it was)."""

    def is_shown(self, request):
        if not permission_policy.user_has_permission(request.user, "change"):
            return False
        return is_configured() or OutboxItem.objects.exists()


def menu_item():
    return OutboxMenuItem(
        _("Marketo outbox"),
        reverse("wagtail_dynchat_outbox:index"),
        name="dynchat-marketo-outbox",
        icon_name="warning",
        order=900,
    )

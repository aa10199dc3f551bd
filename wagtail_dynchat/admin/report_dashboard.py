"""The chat dashboard: headline figures, a chart over time and the top dialogues, pages, agents
and goals for the report filters, on one admin page (``wagtail_dynchat_dashboard:index``).

Every number comes from one :class:`~wagtail_dynchat.reports.metrics.Report` per request (today's
live figures are computed once), so the page runs a fixed number of queries however many
dialogues, pages or agents there are. It needs the ``wagtail_dynchat.view_reports`` permission.
"""

from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ..reports.metrics import InvalidFilters, Report
from ..reports.rollup import COUNTERS
from .charts import PALETTE, format_count, format_rate, time_series_chart, with_bars
from .report_filters import ReportFilterForm, can_view_reports

NAMESPACE = "wagtail_dynchat_dashboard"
#: How many dialogues, pages, agents and goals the dashboard lists (the reports list them all).
TOP = 10
MENU_ORDER = 150  # after Dialogues (100), before Conversations (200)

#: The headline figures, in funnel order: (key, label).
HEADLINE = (
    ("triggered", _("Total triggered")),
    ("engaged", _("Engaged")),
    ("completed", _("Completed")),
    ("people_acquired", _("People acquired")),
    ("meetings_booked", _("Meetings booked")),
    ("goals_reached", _("Goals reached")),
    ("engagement_rate", _("Engagement rate")),
    ("conversion_rate", _("Conversion rate")),
)
RATE_HELP = {
    "engagement_rate": _("Engaged / triggered"),
    "conversion_rate": _("People acquired / engaged"),
}


def url_or_blank(name, *args):
    """A URL by name, or "" while the view it names is not installed."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def with_query(url, query):
    """``url`` with a query string (nothing to add to a blank URL)."""
    return f"{url}?{query}" if url and query else url


def headline_figures(totals, keys=None):
    """The headline figures of ``totals`` (``Report.totals()``) as ``[{"key", "label", "value",
    "help"}]``, values formatted for the locale; ``keys`` picks some of :data:`HEADLINE`."""
    figures = []
    for key, label in HEADLINE:
        if keys is not None and key not in keys:
            continue
        value = format_rate(totals[key]) if key in RATE_HELP else format_count(totals[key])
        figures.append({"key": key, "label": label, "value": value, "help": RATE_HELP.get(key)})
    return figures


def dashboard_context(report, form):
    """Everything the dashboard shows for ``report``, read once each."""
    query = form.query_string()
    missing_days = report.coverage()["missing_days"]
    totals = report.totals()
    filters = report.filters
    dates = {"start": date_format(filters.start), "end": date_format(filters.end)}
    context = {
        "report": report,
        "range_label": gettext("%(start)s to %(end)s") % dates,
        "missing_days": missing_days,
        "missing_days_message": (
            ngettext(
                "%(count)s day has not been rolled up yet; run dynchat_rollup.",
                "%(count)s days have not been rolled up yet; run dynchat_rollup.",
                len(missing_days),
            )
            % {"count": format_count(len(missing_days))}
            if missing_days
            else ""
        ),
        "figures": headline_figures(totals),
        "empty": not any(totals[name] for name in COUNTERS),
        "links": {
            name: with_query(url_or_blank(f"wagtail_dynchat_reports:{name}"), query)
            for name in ("dialogues", "days", "pages", "goals", "agents")
        },
    }
    if context["empty"]:
        # Nothing happened: the lists would be empty too, so they are not even asked for.
        return context
    context["chart"] = time_series_chart(
        report.by_day(), title=gettext("Conversations per day"), chart_id="dynchat-dashboard-chart"
    )
    context["dialogues"] = _dialogues(report, form)
    context["pages"] = _pages(report)
    context["agents"] = with_bars(report.meetings_by_agent()[:TOP], "booked", PALETTE[4])
    context["goals"] = with_bars(report.goals()[:TOP], "count", PALETTE[2])
    return context


def _dialogues(report, form):
    # A dialogue's report fixes the dialogue itself; every other filter carries over.
    query = form.query_string(dialogue=None)
    entries = with_bars(report.by_dialogue()[:TOP], "triggered", PALETTE[0])
    for entry in entries:
        key = entry["translation_key"]
        url = url_or_blank("wagtail_dynchat_dialogue_report:index", key) if key else ""
        entry["url"] = with_query(url, query)
        entry["engagement"] = format_rate(entry["engagement_rate"])
        entry["conversion"] = format_rate(entry["conversion_rate"])
    return entries


def _pages(report):
    entries = with_bars(report.top_pages(TOP), "engaged", PALETTE[1])
    for entry in entries:
        if entry["page_id"] is None:
            entry["label"] = gettext("(not a Wagtail page)")
        else:
            entry["label"] = entry["title"] or gettext("(deleted page)")
        entry["edit_url"] = (
            reverse("wagtailadmin_pages:edit", args=[entry["page_id"]]) if entry["title"] else ""
        )
        entry["engagement"] = format_rate(entry["engagement_rate"])
    return entries


class DashboardView(WagtailAdminTemplateMixin, TemplateView):
    page_title = _("Chat reports")
    header_icon = "table"
    template_name = "wagtail_dynchat/admin/reports/dashboard.html"
    refused_template_name = "wagtail_dynchat/admin/refused.html"
    http_method_names = ["get", "head"]

    def dispatch(self, request, *args, **kwargs):
        # Wagtail's admin turns PermissionDenied into a redirect to its home page; a 403 tells a
        # bookmark or a script that it was refused.
        if not can_view_reports(request.user):
            context = self.get_context_data(
                message=gettext("Sorry, you need the permission to view chat reports.")
            )
            return TemplateResponse(request, self.refused_template_name, context, status=403)
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.get_page_title()}]

    def get(self, request, *args, **kwargs):
        data = request.GET.copy()
        if not data.get("range"):
            # The form's default range, shown as chosen (no value would show the first, "Today").
            data["range"] = "30d"
        form = ReportFilterForm(data)
        report = None
        if form.is_valid():
            try:
                report = Report(form.report_filters())
            except InvalidFilters as error:  # midnight passed between the form and here
                form.add_error(None, error.message)
        if report is None:
            return self.render_to_response(self.get_context_data(form=form), status=400)
        context = self.get_context_data(form=form, **dashboard_context(report, form))
        return self.render_to_response(context)


def get_urls():
    return [path("", DashboardView.as_view(), name="index")]


class DashboardMenuItem(MenuItem):
    def is_shown(self, request):
        return can_view_reports(request.user)


def menu_item():
    return DashboardMenuItem(
        _("Dashboard"),
        reverse(f"{NAMESPACE}:index"),
        name="dynchat-dashboard",
        icon_name="table",
        order=MENU_ORDER,
    )

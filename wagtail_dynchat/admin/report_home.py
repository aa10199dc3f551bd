"""The chat's place on Wagtail's home page: a panel with the last 7 days' figures and a small
chart, and a "people acquired" item in the site summary, both linking to the dashboard and both
only for users who may view the reports.

The home page is every editor's landing page: the panel and the summary share one
:class:`~wagtail_dynchat.reports.metrics.Report` per request: two indexed queries of the rollups
plus today's rows, which the reports keep in the cache for a short while
(:mod:`wagtail_dynchat.reports.live`).
"""

from django.urls import reverse
from django.utils.translation import gettext
from wagtail.admin.site_summary import SummaryItem
from wagtail.admin.ui.components import Component

from ..reports.metrics import Report, ReportFilters
from .charts import HEADLINE_SERIES, time_series_chart
from .report_dashboard import NAMESPACE, headline_figures
from .report_filters import can_view_reports

PRESET = "7d"
#: The figures and lines of the panel: fewer than the dashboard's, to stay legible when small.
PANEL_FIGURES = ("triggered", "engaged", "people_acquired", "meetings_booked", "engagement_rate")
PANEL_SERIES = tuple(
    series
    for series in HEADLINE_SERIES
    if series.key in ("triggered", "engaged", "people_acquired")
)


def week_figures(request):
    """The last 7 days' ``{"rows": by_day, "totals": totals}``, read once per request."""
    figures = getattr(request, "_dynchat_week_figures", None)
    if figures is None:
        report = Report(ReportFilters.for_preset(PRESET))
        figures = {"rows": report.by_day(), "totals": report.totals()}
        request._dynchat_week_figures = figures
    return figures


def dashboard_url():
    """The dashboard over the same 7 days."""
    return f"{reverse(f'{NAMESPACE}:index')}?range={PRESET}"


class ReportsPanel(Component):
    name = "dynchat_reports"
    order = 150
    template_name = "wagtail_dynchat/admin/reports/home_panel.html"

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context):
        figures = week_figures(self.request)
        return {
            "figures": headline_figures(figures["totals"], PANEL_FIGURES),
            "chart": time_series_chart(
                figures["rows"],
                PANEL_SERIES,
                title=gettext("Conversations per day, last 7 days"),
                chart_id="dynchat-home-chart",
                compact=True,
            ),
            "dashboard_url": dashboard_url(),
        }

    class Media:
        css = {"all": ["wagtail_dynchat/admin/reports.css"]}


class PeopleAcquiredSummaryItem(SummaryItem):
    order = 600
    template_name = "wagtail_dynchat/admin/reports/summary_item.html"

    def is_shown(self):
        return can_view_reports(self.request.user)

    def get_context_data(self, parent_context):
        return {
            "people_acquired": week_figures(self.request)["totals"]["people_acquired"],
            "dashboard_url": dashboard_url(),
        }


def add_home_panel(request, panels):
    """``construct_homepage_panels``: the panel, for users who may view the reports."""
    if can_view_reports(request.user):
        panels.append(ReportsPanel(request))


def add_summary_item(request, items):
    """``construct_homepage_summary_items``: people acquired in the last 7 days."""
    items.append(PeopleAcquiredSummaryItem(request))

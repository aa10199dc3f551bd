"""A dialogue's report: its totals and goals, its funnel drawn on its flow, and the funnel as a
table with the choices of each question, exported as CSV or XLSX.

The dialogue is named by its translation key, so its translations are counted together (the
language filter narrows to one). Numbers come from :class:`~..reports.metrics.Report` alone;
the flow is the latest compiled one (:class:`~..models.FlowSnapshot`), which is also the order
the funnel lists cards in. The page costs a constant number of queries, whatever the size of the
flow or the period.
"""

from django.contrib.admin.utils import quote
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.functional import cached_property
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.mixins import SpreadsheetExportMixin
from wagtail.admin.widgets.button import Button
from wagtail.permissions import policy_registry

from ..models import Dialogue, FlowSnapshot
from ..reports.metrics import InvalidFilters, Report
from ..reports.rollup import COUNTERS
from . import flow_picture
from .charts import format_count, format_rate
from .report_filters import ReportFilterForm, can_view_reports

NAMESPACE = "wagtail_dynchat_dialogue_report"
DASHBOARD_URL_NAME = "wagtail_dynchat_dashboard:index"
DIALOGUES_URL_NAME = "wagtail_dynchat_reports:dialogues"

# Headline figures in the order the page shows them; rates are shown as percentages.
FIGURES = [
    ("triggered", _("Triggered")),
    ("engaged", _("Engaged")),
    ("engagement_rate", _("Engagement rate")),
    ("completed", _("Completed")),
    ("people_acquired", _("People acquired")),
    ("conversion_rate", _("Conversion rate")),
    ("meetings_booked", _("Meetings booked")),
    ("goals_reached", _("Goals reached")),
    ("documents_opened", _("Documents opened")),
]


def report_url(dialogue, query=""):
    """The address of a dialogue's report (``dialogue`` or its translation key)."""
    key = getattr(dialogue, "translation_key", dialogue)
    url = reverse(f"{NAMESPACE}:index", args=[key])
    return f"{url}?{query}" if query else url


def latest_flow(translation_key, locale_id=None):
    """The latest compiled flow of a dialogue's translations (of one language with
    ``locale_id``): the flow the funnel orders its cards by. None before any conversation."""
    snapshots = FlowSnapshot.objects.filter(dialogue__translation_key=translation_key)
    if locale_id is not None:
        snapshots = snapshots.filter(dialogue__locale_id=locale_id)
    snapshot = snapshots.order_by("-created_at", "-pk").only("flow").first()
    return snapshot.flow if snapshot is not None else None


def _optional_url(name):
    # Pages of other parts of the reports may not be installed (or registered) yet.
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def _fraction(rate):
    # Spreadsheets get the fraction, as in the other chat reports ("" without a denominator).
    return "" if rate is None else rate


class DialogueReportView(SpreadsheetExportMixin, WagtailAdminTemplateMixin, TemplateView):
    template_name = "wagtail_dynchat/admin/dialogue_report/index.html"
    refused_template_name = "wagtail_dynchat/admin/refused.html"
    header_icon = "comment"
    http_method_names = ["get"]

    list_export = [
        "branch",
        "card",
        "type",
        "label",
        "choice",
        "value",
        "target",
        "reached",
        "answered",
        "dropped",
        "drop_rate",
        "count",
        "share",
    ]
    export_headings = {
        "branch": _("Branch"),
        "card": _("Card id"),
        "type": _("Type"),
        "label": _("Card"),
        "choice": _("Choice"),
        "value": _("Stored value"),
        "target": _("Goes to branch"),
        "reached": _("Reached"),
        "answered": _("Answered"),
        "dropped": _("Dropped"),
        "drop_rate": _("Drop rate"),
        "count": _("Times chosen"),
        "share": _("Share of answers"),
    }
    #: Exported as fractions, shown as percentages in XLSX.
    rate_fields = ("drop_rate", "share")

    def dispatch(self, request, *args, **kwargs):
        # Refused before looking the dialogue up, so that nobody learns which keys exist.
        if not can_view_reports(request.user):
            title = gettext("Chat reports")
            context = {
                "page_title": title,
                "header_title": title,
                "header_icon": self.header_icon,
                "breadcrumbs_items": [*self.breadcrumbs_items, {"url": "", "label": title}],
                "message": gettext("Sorry, you need the permission to view chat reports."),
            }
            return TemplateResponse(request, self.refused_template_name, context, status=403)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, translation_key):
        # Only what the page names: the rows also hold the whole flow and its settings.
        self.translations = list(
            Dialogue.objects.filter(translation_key=translation_key)
            .only("pk", "name", "locale_id", "translation_key")
            .order_by("pk")
        )
        if not self.translations:
            raise Http404(gettext("There is no such dialogue."))
        self.filter_form = ReportFilterForm(request.GET, dialogue=False)
        self.report = None
        if self.filter_form.is_valid():
            filters = self.filter_form.report_filters().with_dialogue(translation_key)
            try:
                self.report = Report(filters)
            except InvalidFilters as error:
                self.filter_form.add_error(None, error.message)
        if self.report is None:
            # The form says what is wrong; nothing is counted.
            return self.render_to_response(self.get_context_data(), status=400)
        self.funnel = self.report.funnel()
        self.figures = flow_picture.figures(
            latest_flow(translation_key, self.report.filters.locale_id), self.funnel
        )
        if self.is_export:
            return self.as_spreadsheet(list(self.export_rows()), request.GET["export"])
        return self.render_to_response(self.get_context_data())

    @cached_property
    def dialogue(self):
        """The translation the page is named after: the filtered language's, else the first."""
        locale_id = self.report.filters.locale_id if self.report else None
        return next(
            (item for item in self.translations if item.locale_id == locale_id),
            self.translations[0],
        )

    def get_page_title(self):
        return gettext("Report: %(name)s") % {"name": self.dialogue.name}

    def get_breadcrumbs_items(self):
        # Back to the dashboard and the dialogues' report with the same filters.
        query = self.filter_form.query_string(export=None)
        items = [*self.breadcrumbs_items]
        for name, label in [
            (DASHBOARD_URL_NAME, gettext("Chat reports")),
            (DIALOGUES_URL_NAME, gettext("Chat: dialogues")),
        ]:
            url = _optional_url(name)
            if url:
                items.append({"url": f"{url}?{query}" if query else url, "label": label})
        return [*items, {"url": "", "label": self.get_page_title()}]

    @cached_property
    def edit_url(self):
        policy = policy_registry.get_by_type(Dialogue)
        if not policy.user_has_permission(self.request.user, "change"):
            return ""
        viewset = Dialogue.snippet_viewset
        return reverse(viewset.get_url_name("edit"), args=[quote(self.dialogue.pk)])

    @cached_property
    def show_export_buttons(self):
        return self.report is not None

    @cached_property
    def header_more_buttons(self):
        buttons = list(super().header_more_buttons)
        if self.edit_url:
            buttons.append(
                Button(gettext("Edit dialogue"), url=self.edit_url, icon_name="edit", priority=10)
            )
        return buttons

    def generate_xlsx_row(self, worksheet, row_dict, date_format=None):
        cells = super().generate_xlsx_row(worksheet, row_dict, date_format)
        for cell, field in zip(cells, row_dict, strict=True):
            if field in self.rate_fields:
                cell.number_format = "0.0%"
            yield cell

    def get_filename(self):
        filters = self.report.filters
        name = slugify(self.dialogue.name) or "dialogue"
        return f"dialogue-report-{name}-{filters.start}-{filters.end}"

    def export_rows(self):
        """A row per card, each followed by a row per choice of a question."""
        for card in self.figures.cards():
            base = {
                "branch": card.branch if card.in_flow else gettext("(no longer in the flow)"),
                "card": card.card,
                "type": card.type_label,
                "label": card.label,
            }
            yield {
                **base,
                "choice": "",
                "value": "",
                "target": "",
                "reached": card.reached,
                "answered": card.answered if card.waits else "",
                "dropped": card.dropped if card.waits else "",
                "drop_rate": _fraction(card.drop_rate) if card.waits else "",
                "count": "",
                "share": "",
            }
            for choice in card.choices:
                yield {
                    **base,
                    "choice": choice.label,
                    "value": choice.value,
                    "target": choice.target,
                    "reached": "",
                    "answered": "",
                    "dropped": "",
                    "drop_rate": "",
                    "count": choice.count,
                    "share": _fraction(choice.share),
                }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            dialogue=self.dialogue,
            translation_count=len(self.translations) - 1,
            filter_form=self.filter_form,
            report=self.report,
        )
        if self.report is None:
            return context
        totals = self.report.totals()
        cards = self.figures.cards()
        has_data = bool(self.funnel["cards"]) or any(totals[name] for name in COUNTERS)
        context.update(
            has_data=has_data,
            figures=[
                (
                    key,
                    label,
                    format_rate(totals[key])
                    if key.endswith("_rate")
                    else format_count(totals[key]),
                )
                for key, label in FIGURES
            ],
            goals=self.report.goals(),
            # Card and choice rollups have no page: a page filter narrows the totals only.
            funnel_ignores_page=self.report.filters.page_id is not None,
            missing_days=self.report.coverage()["missing_days"],
            cards=cards,
            flow_svg=flow_picture.render(
                flow_picture.lay_out(
                    self.figures,
                    title=gettext("The funnel of “%(name)s” on its flow")
                    % {"name": self.dialogue.name},
                )
            )
            if has_data
            else "",
            export_urls={"csv": self.csv_export_url, "xlsx": self.xlsx_export_url},
        )
        return context


def get_urls():
    return [path("<uuid:translation_key>/", DialogueReportView.as_view(), name="index")]


def listing_buttons(snippet, user, next_url=None):
    """The "Report" item of each dialogue in the snippet listing
    (``register_snippet_listing_buttons``), for users who may view reports."""
    if isinstance(snippet, Dialogue) and can_view_reports(user):
        yield Button(_("Report"), url=report_url(snippet), icon_name="table", priority=40)


def header_buttons(dialogue, user):
    """The "Report" item for a dialogue's edit and inspect views, when the user may view
    reports."""
    if dialogue is None or dialogue.pk is None or not can_view_reports(user):
        return []
    return [Button(_("Report"), url=report_url(dialogue), icon_name="table", priority=40)]

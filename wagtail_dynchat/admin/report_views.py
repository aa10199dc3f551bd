"""Chat reports in Wagtail's Reports menu: listings of the report metrics with filters and CSV/XLSX
export, built on Wagtail's :class:`~wagtail.admin.views.reports.ReportView`.

The rows are the plain dicts of :class:`~wagtail_dynchat.reports.metrics.Report` (rollups plus
today's live events), not a queryset: a view's ``get_queryset()`` returns the list, which
Wagtail's paginator, table columns and spreadsheet export all accept. Filtering happens in
``Report``, so the filter set only carries :class:`.report_filters.ReportFilterForm` into
Wagtail's filter drilldown and active-filter pills; it never filters rows itself.

Every view needs the ``wagtail_dynchat.view_reports`` permission, exports included.
"""

import copy

import django_filters
from django import forms
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.active_filters import (
    ActiveFilter,
    BaseFilterAdapter,
    register_filter_adapter_class,
)
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column, NumberColumn, TitleColumn
from wagtail.admin.views.reports import ReportView
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.utils.utils import flatten_choices

from ..models import DailyStats
from ..reports.metrics import InvalidFilters, Report
from .charts import format_rate
from .report_filters import ReportFilterForm, can_view_reports

NAMESPACE = "wagtail_dynchat_reports"
#: Query parameters of the listing itself, not of the report's filters.
LISTING_PARAMETERS = ("p", "ordering", "export", "_w_filter_fragment")
#: Where the reports sit in Wagtail's Reports menu (after Wagtail's own, 700 to 1200).
MENU_ORDER = 1300


class ReportsPermissionPolicy(ModelPermissionPolicy):
    """The reports' one permission, ``wagtail_dynchat.view_reports`` (declared on
    :class:`~wagtail_dynchat.models.DailyStats`): an action here is the permission's codename,
    not a model action such as ``view``."""

    def _get_permission_codename(self, action):
        return action


# ---- filters -----------------------------------------------------------------------------------


class ReportFormFilter(django_filters.Filter):
    """A filter whose form field is one of :class:`ReportFilterForm`'s own, so Wagtail's
    drilldown shows that form; rows are filtered by :class:`Report`, so this is a no-op."""

    def __init__(self, form_field, **kwargs):
        super().__init__(label=form_field.label, **kwargs)
        self.form_field = form_field

    @property
    def field(self):
        if not hasattr(self, "_field"):
            self._field = copy.deepcopy(self.form_field)
        return self._field

    def filter(self, qs, value):
        return qs


class ReportFormFilterAdapter(BaseFilterAdapter):
    """An active-filter pill showing a filter's value as the form shows it (the choice's
    label, the object's name, a localised date)."""

    def get_active_filters(self):
        field = self.bound_field.field
        if isinstance(field, forms.ModelChoiceField):
            display = field.label_from_instance(self.value)
        elif isinstance(field, forms.ChoiceField):
            display = flatten_choices(field.choices).get(str(self.value), str(self.value))
        elif isinstance(field, forms.DateField):
            display = date_format(self.value)
        else:
            display = str(self.value)
        # The custom days mean nothing once the range stops being custom.
        removed = ["range", "start", "end"] if self.name == "range" else self.name
        yield ActiveFilter(
            self.bound_field.auto_id,
            self.filter.label,
            display,
            self.get_url_without_filter_param(removed),
        )


register_filter_adapter_class(ReportFormFilter, ReportFormFilterAdapter, exact_class=True)


class ReportFilterSet(WagtailFilterSet):
    """:class:`ReportFilterForm` as a filter set, for Wagtail's listing filter UI."""

    class Meta:
        # The rows come from the rollups; the filter set never queries this model.
        model = DailyStats
        fields = []
        form = ReportFilterForm

    @classmethod
    def get_filters(cls):
        return {
            name: ReportFormFilter(field) for name, field in ReportFilterForm.base_fields.items()
        }


# ---- columns -----------------------------------------------------------------------------------


class RateColumn(Column):
    """A rate (a fraction, None without a denominator) as a percentage."""

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["value"] = format_rate(context["raw_value"])
        return context


COUNTERS = {
    "triggered": _("Triggered"),
    "engaged": _("Engaged"),
    "completed": _("Completed"),
    "people_acquired": _("People acquired"),
    "meetings_booked": _("Meetings booked"),
    "goals_reached": _("Goals reached"),
}
RATES = {
    "engagement_rate": _("Engagement rate"),
    "conversion_rate": _("Conversion rate"),
}


def counter_columns():
    """The headline counters and rates, sortable."""
    return [NumberColumn(name, label=label, sort_key=name) for name, label in COUNTERS.items()] + [
        RateColumn(name, label=label, sort_key=name) for name, label in RATES.items()
    ]


# ---- views -------------------------------------------------------------------------------------


class ChatReportView(ReportView):
    """A listing of one :class:`Report` metric under the report filters.

    Subclasses set ``name`` (the URL name), ``page_title``, ``header_icon``, ``list_export``
    with ``export_headings``, and implement :meth:`get_rows` and :meth:`get_columns`.
    """

    name = None
    permission_policy = ReportsPermissionPolicy(DailyStats)
    permission_required = "view_reports"
    filterset_class = ReportFilterSet
    results_template_name = "wagtail_dynchat/admin/reports/report_results.html"
    refused_template_name = "wagtail_dynchat/admin/refused.html"

    def dispatch(self, request, *args, **kwargs):
        # Wagtail's admin turns PermissionDenied into a redirect to the dashboard; a 403 tells a
        # bookmarked export or a script that it was refused.
        if not self.user_has_permission(self.permission_required):
            return self.refuse()
        return super().dispatch(request, *args, **kwargs)

    def refuse(self):
        context = {
            "header_title": self.page_title,
            "breadcrumbs_items": [*self.breadcrumbs_items, {"url": "", "label": self.page_title}],
            "message": gettext("Sorry, you need the permission to view chat reports."),
        }
        return TemplateResponse(self.request, self.refused_template_name, context, status=403)

    def get_index_url(self):
        return reverse(f"{NAMESPACE}:{self.name}")

    def get_index_results_url(self):
        return reverse(f"{NAMESPACE}:{self.name}_results")

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("wagtail_dynchat_dashboard:index"), "label": _("Chat reports")},
            {"url": "", "label": self.get_page_title()},
        ]

    @cached_property
    def form(self):
        """The bound :class:`ReportFilterForm` (of the filter set)."""
        return self.filters.form

    @cached_property
    def report(self):
        """The :class:`Report` of the filters, or None when they are invalid (the form then
        holds the errors)."""
        if not self.filters.is_valid():
            return None
        try:
            return Report(self.form.report_filters())
        except InvalidFilters as error:
            self.form.add_error(None, error.message)
            return None

    def filter_query(self, **changes):
        """The report's filters as a query string, with ``changes`` (None drops a parameter), for
        links to other reports."""
        listing = dict.fromkeys(LISTING_PARAMETERS)
        return self.form.query_string(**{**listing, **changes})

    def get_rows(self, report):
        raise NotImplementedError

    def get_columns(self):
        raise NotImplementedError

    @cached_property
    def columns(self):
        return self.get_columns()

    def get_queryset(self):
        if self.report is None:
            return []
        return self.order_queryset(self.get_rows(self.report))

    def filter_queryset(self, queryset):
        return queryset

    def order_queryset(self, rows):
        if not self.ordering:
            return rows
        key = self.ordering.lstrip("-")

        def sort_key(row):
            value = row[key]
            if isinstance(value, str):
                value = value.casefold()
            # Rates without a denominator (None) sort below every number.
            return (value is not None, value)

        return sorted(rows, key=sort_key, reverse=self.ordering.startswith("-"))

    def get_table_kwargs(self):
        kwargs = super().get_table_kwargs()
        if self.report is not None:
            kwargs["caption"] = self.range_label
        return kwargs

    @cached_property
    def range_label(self):
        filters = self.report.filters
        return gettext("%(title)s, %(start)s to %(end)s") % {
            "title": self.get_page_title(),
            "start": date_format(filters.start),
            "end": date_format(filters.end),
        }

    def get_filename(self):
        filters = self.report.filters
        return f"chat-{self.name}-{filters.start.isoformat()}-{filters.end.isoformat()}"

    def generate_xlsx_row(self, worksheet, row_dict, date_format=None):
        for cell, field in zip(
            super().generate_xlsx_row(worksheet, row_dict, date_format), row_dict, strict=True
        ):
            if field in RATES:
                cell.number_format = "0.0%"
            yield cell

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        context["form"] = self.form
        context["report"] = self.report
        if self.report is not None:
            context["range_label"] = self.range_label
            context["missing_days"] = self.report.coverage()["missing_days"]
        return context

    def render_to_response(self, context, **response_kwargs):
        if self.report is None:
            # Swapped-in results must be a success for Wagtail's filter UI to show the errors;
            # a full page or an export says 400.
            response_kwargs["status"] = 200 if self.results_only else 400
            return super(ReportView, self).render_to_response(context, **response_kwargs)
        return super().render_to_response(context, **response_kwargs)


class DialoguesReportView(ChatReportView):
    name = "dialogues"
    page_title = _("Chat: dialogues")
    header_icon = "comment"
    list_export = ["name", *COUNTERS, *RATES]
    export_headings = {"name": _("Dialogue"), **COUNTERS, **RATES}

    def get_rows(self, report):
        return report.by_dialogue()

    def dialogue_report_url(self, row):
        if row["translation_key"] is None:
            return None
        url = reverse("wagtail_dynchat_dialogue_report:index", args=[row["translation_key"]])
        return f"{url}?{self.filter_query(dialogue=None)}"

    def get_columns(self):
        return [
            TitleColumn(
                "name", label=_("Dialogue"), sort_key="name", get_url=self.dialogue_report_url
            ),
            *counter_columns(),
        ]


class DaysReportView(ChatReportView):
    name = "days"
    page_title = _("Chat: days")
    header_icon = "calendar"
    default_ordering = "-day"
    list_export = ["day", *COUNTERS, *RATES]
    export_headings = {"day": _("Day"), **COUNTERS, **RATES}

    def get_rows(self, report):
        return report.by_day()

    def dialogues_of_day_url(self, row):
        day = row["day"].isoformat()
        query = self.filter_query(range="custom", start=day, end=day)
        return f"{reverse(f'{NAMESPACE}:dialogues')}?{query}"

    def get_columns(self):
        return [
            TitleColumn(
                "day",
                label=_("Day"),
                sort_key="day",
                accessor=lambda row: date_format(row["day"]),
                get_url=self.dialogues_of_day_url,
            ),
            *counter_columns(),
        ]


class PagesReportView(ChatReportView):
    name = "pages"
    page_title = _("Chat: pages")
    header_icon = "doc-empty"
    list_export = ["page_id", "title", "url", *COUNTERS, *RATES]
    export_headings = {
        "page_id": _("Page ID"),
        "title": _("Page"),
        "url": _("URL"),
        **COUNTERS,
        **RATES,
    }

    def get_rows(self, report):
        return report.top_pages(limit=None)

    @staticmethod
    def page_title_of(row):
        if row["page_id"] is None:
            return gettext("(not a Wagtail page)")
        return row["title"] or gettext("(deleted page)")

    @staticmethod
    def page_edit_url(row):
        if row["page_id"] is None or not row["title"]:
            return None
        return reverse("wagtailadmin_pages:edit", args=[row["page_id"]])

    def get_columns(self):
        return [
            TitleColumn(
                "title",
                label=_("Page"),
                sort_key="title",
                accessor=self.page_title_of,
                get_url=self.page_edit_url,
            ),
            Column("url", label=_("URL")),
            *counter_columns(),
        ]


class GoalsReportView(ChatReportView):
    name = "goals"
    page_title = _("Chat: goals")
    header_icon = "crosshairs"
    list_export = ["goal", "count"]
    export_headings = {"goal": _("Goal"), "count": _("Times reached")}

    def get_rows(self, report):
        return report.goals()

    def get_columns(self):
        return [
            Column("goal", label=_("Goal"), sort_key="goal"),
            NumberColumn("count", label=_("Times reached"), sort_key="count"),
        ]


class AgentsReportView(ChatReportView):
    name = "agents"
    page_title = _("Chat: meetings by agent")
    header_icon = "calendar-check"
    list_export = ["agent", "booked", "cancelled"]
    export_headings = {
        "agent": _("Agent"),
        "booked": _("Meetings booked"),
        "cancelled": _("Meetings cancelled"),
    }

    def get_rows(self, report):
        return report.meetings_by_agent()

    def get_columns(self):
        return [
            Column("agent", label=_("Agent"), sort_key="agent"),
            NumberColumn("booked", label=_("Meetings booked"), sort_key="booked"),
            NumberColumn("cancelled", label=_("Meetings cancelled"), sort_key="cancelled"),
        ]


REPORT_VIEWS = (
    DialoguesReportView,
    DaysReportView,
    PagesReportView,
    GoalsReportView,
    AgentsReportView,
)


# ---- registration ------------------------------------------------------------------------------


def get_urls():
    """Two URLs per report, the page and its results for Wagtail's filter UI (mounted at
    ``dynchat/reports/list/`` in the ``wagtail_dynchat_reports`` namespace)."""
    urls = []
    for view in REPORT_VIEWS:
        urls += [
            path(f"{view.name}/", view.as_view(), name=view.name),
            path(
                f"{view.name}/results/",
                view.as_view(results_only=True),
                name=f"{view.name}_results",
            ),
        ]
    return urls


class ReportMenuItem(MenuItem):
    def is_shown(self, request):
        return can_view_reports(request.user)


def menu_item_hooks():
    """One ``register_reports_menu_item`` hook function per report, in menu order; the labels
    share a prefix so the reports sit together in Wagtail's Reports menu."""

    def hook(view, order):
        def menu_item():
            return ReportMenuItem(
                view.page_title,
                reverse(f"{NAMESPACE}:{view.name}"),
                name=f"dynchat-report-{view.name}",
                icon_name=view.header_icon,
                order=order,
            )

        return menu_item

    return [hook(view, MENU_ORDER + index) for index, view in enumerate(REPORT_VIEWS)]

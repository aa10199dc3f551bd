"""The filters every report view shares (dashboard, report listings, a dialogue's funnel), as one
form over :class:`~wagtail_dynchat.reports.metrics.ReportFilters`, and the reports permission."""

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from wagtail.admin.widgets import AdminDateInput, AdminPageChooser
from wagtail.models import Locale, Page, Site

from ..reports.metrics import CUSTOM, VISITORS, InvalidFilters, ReportFilters
from .conversations import source_dialogues

#: The permission that shows the dashboard, the reports and their exports.
REPORTS_PERMISSION = "wagtail_dynchat.view_reports"

RANGE_CHOICES = [
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    (CUSTOM, _("Custom range")),
]
VISITOR_CHOICES = [
    ("all", _("All visitors")),
    ("known", _("Known visitors")),
    ("anonymous", _("Anonymous visitors")),
]
assert {value for value, _label in VISITOR_CHOICES} == set(VISITORS)


def can_view_reports(user):
    """Whether ``user`` may see the dashboard and the reports."""
    return user.is_active and user.has_perm(REPORTS_PERMISSION)


class ReportFilterForm(forms.Form):
    """Date range (a preset or custom days), dialogue (with its translations), site, locale,
    known or anonymous visitors, and the page conversations started on.

    Bound to ``request.GET``; an empty query means the last 30 days of everything.
    ``dialogue=False`` leaves the dialogue out (a dialogue's own report fixes it).
    """

    range = forms.ChoiceField(label=_("Date range"), choices=RANGE_CHOICES, required=False)
    start = forms.DateField(label=_("From"), required=False, widget=AdminDateInput)
    end = forms.DateField(label=_("To"), required=False, widget=AdminDateInput)
    dialogue = forms.ChoiceField(label=_("Dialogue"), required=False)
    site = forms.ModelChoiceField(
        label=_("Site"), queryset=Site.objects.all(), required=False, empty_label=_("All sites")
    )
    locale = forms.ModelChoiceField(
        label=_("Language"),
        queryset=Locale.objects.all(),
        required=False,
        empty_label=_("All languages"),
    )
    visitors = forms.ChoiceField(label=_("Visitors"), choices=VISITOR_CHOICES, required=False)
    page = forms.ModelChoiceField(
        label=_("Page"),
        queryset=Page.objects.filter(depth__gt=1),
        required=False,
        widget=AdminPageChooser,
        help_text=_("The page conversations started on."),
    )

    def __init__(self, data=None, *, dialogue=True, today=None, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today
        if dialogue:
            self.fields["dialogue"].choices = [("", _("All dialogues"))] + [
                (str(item.translation_key), item.name) for item in source_dialogues()
            ]
        else:
            del self.fields["dialogue"]
        self._filters = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        params = {
            "range": cleaned.get("range") or "30d",
            "start": cleaned["start"].isoformat() if cleaned.get("start") else "",
            "end": cleaned["end"].isoformat() if cleaned.get("end") else "",
            "dialogue": cleaned.get("dialogue") or "",
            "site": cleaned["site"].pk if cleaned.get("site") else "",
            "locale": cleaned["locale"].pk if cleaned.get("locale") else "",
            "page": cleaned["page"].pk if cleaned.get("page") else "",
            "visitors": cleaned.get("visitors") or "all",
        }
        if params["range"] == CUSTOM:
            for name in ("start", "end"):
                if not params[name]:
                    self.add_error(name, _("Enter a date for a custom range."))
            if self.errors:
                return cleaned
        try:
            self._filters = ReportFilters.from_params(params, today=self.today)
        except InvalidFilters as error:
            raise forms.ValidationError(error.message) from None
        return cleaned

    def report_filters(self):
        """The :class:`ReportFilters` of a valid form (``is_valid()`` first)."""
        if self._filters is None:
            raise ValueError("report_filters() needs a valid form")
        return self._filters

    def query_string(self, **changes):
        """The form's query (a ``request.GET``) with ``changes`` (None removes a parameter), so
        links inside a report keep its filters."""
        query = self.data.copy() if self.data else QueryDict(mutable=True)
        for name, value in changes.items():
            query.pop(name, None)
            if value is not None:
                query[name] = value
        return query.urlencode()

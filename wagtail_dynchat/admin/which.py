"""The "Which dialogue would show here?" tool: pick a page and a sample visitor, see the winner
and why every other dialogue lost."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets import AdminPageChooser
from wagtail.models import Page

from .. import targeting
from ..diagnosis import diagnose
from ..models import Dialogue, Person
from ..page_views import all_facts
from ..visitor_facts import SAMPLE_USER_AGENTS, visitor_facts

WEEKDAYS = [
    ("", _("Today")),
    ("0", _("Monday")),
    ("1", _("Tuesday")),
    ("2", _("Wednesday")),
    ("3", _("Thursday")),
    ("4", _("Friday")),
    ("5", _("Saturday")),
    ("6", _("Sunday")),
]


class SampleVisitorForm(forms.Form):
    page = forms.ModelChoiceField(
        queryset=Page.objects.filter(depth__gt=1), widget=AdminPageChooser, label=_("Page")
    )
    query = forms.CharField(
        required=False,
        label=_("Query string"),
        help_text=_("Added to the page's address, e.g. utm_source=newsletter&ref=ads."),
    )
    email = forms.EmailField(required=False, label=_("E-mail (empty: anonymous)"))
    first_name = forms.CharField(required=False, label=_("First name"))
    company = forms.CharField(required=False, label=_("Company"))
    job_title = forms.CharField(required=False, label=_("Job title"))
    device = forms.ChoiceField(
        choices=[("desktop", _("Desktop")), ("mobile", _("Phone")), ("tablet", _("Tablet"))],
        label=_("Device"),
    )
    language = forms.CharField(initial="en", max_length=20, label=_("Browser language"))
    referrer = forms.URLField(
        required=False, assume_scheme="https", label=_("Came from (referrer)")
    )
    visits = forms.IntegerField(min_value=1, initial=1, label=_("Visits so far"))
    weekday = forms.ChoiceField(choices=WEEKDAYS, required=False, label=_("Weekday"))
    hour = forms.IntegerField(
        min_value=0, max_value=23, required=False, label=_("Hour (site time)")
    )


class WhichDialogueView(PermissionCheckedMixin, WagtailAdminTemplateMixin, FormView):
    model = Dialogue
    any_permission_required = ["add", "change", "publish"]
    form_class = SampleVisitorForm
    template_name = "wagtail_dynchat/admin/which.html"
    page_title = _("Which dialogue would show here?")
    header_icon = "comment"

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.page_title}]

    def get(self, request, *args, **kwargs):
        # The form is read from the query string so that a result can be linked to.
        if "page" in request.GET:
            form = self.form_class(request.GET)
            if form.is_valid():
                return self.form_valid(form)
            return self.form_invalid(form)
        return super().get(request, *args, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        page = data["page"].specific
        info = targeting.page_info(page)
        url = page.get_full_url(self.request) or ""
        if data["query"]:
            url = f"{url}?{data['query'].lstrip('?')}"
        now = _sample_time(data)
        facts = visitor_facts(
            url=url,
            referrer=data["referrer"],
            user_agent=SAMPLE_USER_AGENTS[data["device"]],
            accept_language=data["language"],
            visits=data["visits"],
            now=now,
            time_zone=timezone.get_current_timezone(),
        )
        # An unsaved person: the same facts as a real one, and nothing written.
        person = Person(
            email=data["email"] or None,
            first_name=data["first_name"],
            company=data["company"],
            job_title=data["job_title"],
        )
        facts = all_facts(person, facts)
        context = self.get_context_data(
            form=form, page=page, url=url, diagnosis=diagnose(info, url, facts)
        )
        return self.render_to_response(context)


def _sample_time(data):
    now = timezone.localtime()
    if data.get("weekday") not in (None, ""):
        now += datetime.timedelta(days=(int(data["weekday"]) - now.weekday()) % 7)
    if data.get("hour") is not None:
        now = now.replace(hour=data["hour"])
    return now

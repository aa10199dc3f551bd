"""Calendars in the admin: each agent's "My calendar" page (connection and availability), the
OAuth callbacks, and the admins' listing of every agent (wagtail-modeladmin).

A thin layer: connecting, tokens, failures and disconnecting live in ``meetings.connections``.
"""

import re
import zoneinfo

from django import forms
from django.contrib.admin import display
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MinValueValidator
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin import messages
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail_modeladmin.helpers import PermissionHelper
from wagtail_modeladmin.options import ModelAdmin, modeladmin_register

from ..meetings import connections
from ..models import Agent, CalendarConnection
from ..models.meetings import parse_week

NAMESPACE = "wagtail_dynchat_calendars"
TEMPLATES = "wagtail_dynchat/admin/calendars/"
CONNECT_LABELS = {
    CalendarConnection.GOOGLE: _("Connect Google Calendar"),
    CalendarConnection.MICROSOFT: _("Connect Outlook"),
}
DAY_NAMES = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)
DAY_FIELDS = tuple(f"day_{number}" for number in range(7))


def _url(name, *args):
    return reverse(f"{NAMESPACE}:{name}", args=args)


# -- the agent's settings ----------------------------------------------------------------------

_TIME = r"(\d{1,2})(?:[:.](\d{2}))?"
_BLOCK = re.compile(rf"^{_TIME}\s*(?:-|\u2013|\u2014|to)\s*{_TIME}$", re.IGNORECASE)
_BLOCK_ERRORS = {
    "reversed_block": _("A block must end after it starts (split blocks at midnight)."),
    "overlapping_blocks": _("Two blocks overlap."),
}


def _clock(hours, minutes):
    hours, minutes = int(hours), int(minutes or 0)
    if hours > 23 or minutes > 59:
        raise ValueError
    return f"{hours:02d}:{minutes:02d}"


def parse_day(text):
    """``"09:00-12:00, 13:00-17:00"`` as ``[["09:00", "12:00"], ["13:00", "17:00"]]``;
    ValidationError with a message for that day."""
    blocks = []
    for part in re.split(r"[,;\n]", text or ""):
        part = part.strip()
        if not part:
            continue
        match = _BLOCK.match(part)
        try:
            if match is None:
                raise ValueError
            blocks.append([_clock(*match.group(1, 2)), _clock(*match.group(3, 4))])
        except ValueError:
            raise ValidationError(
                _("“%(block)s” is not a block of time such as 09:00-12:00."),
                params={"block": part},
                code="invalid_block",
            ) from None
    try:
        parse_week({"0": blocks})
    except ValidationError as error:
        raise ValidationError(
            _BLOCK_ERRORS.get(error.code, error.messages[0]), code=error.code
        ) from None
    return blocks


def format_day(blocks):
    return ", ".join(f"{start}-{end}" for start, end in blocks or [])


def time_zone_choices():
    names = (
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("posix/", "right/", "Etc/", "SystemV/"))
    )
    return [("UTC", "UTC"), *((name, name.replace("_", " ")) for name in sorted(names))]


class AgentSettingsForm(forms.ModelForm):
    """The agent's settings; the weekly availability is one text input per weekday."""

    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)

    class Meta:
        model = Agent
        fields = [
            "display_name",
            "time_zone",
            "meeting_minutes",
            "buffer_minutes",
            "min_notice_hours",
            "horizon_days",
            "daily_cap",
            "invitation",
            "online_meeting",
            "active",
        ]
        widgets = {"invitation": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        week = self.instance.availability or {}
        if self.instance.time_zone not in dict(self.fields["time_zone"].choices):
            self.fields["time_zone"].choices = [
                (self.instance.time_zone, self.instance.time_zone),
                *self.fields["time_zone"].choices,
            ]
        for number, name in enumerate(DAY_FIELDS):
            self.fields[name] = forms.CharField(
                label=DAY_NAMES[number],
                required=False,
                initial=format_day(week.get(str(number))),
                widget=forms.TextInput(attrs={"placeholder": _("Not available")}),
            )
        self.fields["horizon_days"].validators.append(MinValueValidator(1))
        self.fields["horizon_days"].widget.attrs["min"] = 1
        self.order_fields(["display_name", "time_zone", *DAY_FIELDS])

    def day_fields(self):
        return [self[name] for name in DAY_FIELDS]

    def other_fields(self):
        return [field for field in self if field.name not in DAY_FIELDS]

    def clean(self):
        cleaned = super().clean()
        # A day with errors counts as empty here; the form is invalid anyway, and the model's
        # own clean() only sees a valid week.
        self.instance.availability = {
            str(number): cleaned.get(name) or [] for number, name in enumerate(DAY_FIELDS)
        }
        return cleaned


def _day_cleaner(name):
    def clean(self):
        return parse_day(self.cleaned_data.get(name))

    clean.__name__ = f"clean_{name}"
    return clean


for _name in DAY_FIELDS:
    setattr(AgentSettingsForm, f"clean_{_name}", _day_cleaner(_name))


# -- views -------------------------------------------------------------------------------------


class AgentOnlyMixin:
    """Users with the "Calendar agent" permission (and superusers)."""

    def dispatch(self, request, *args, **kwargs):
        if not connections.can_take_meetings(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class MyCalendarView(AgentOnlyMixin, WagtailAdminTemplateMixin, TemplateView):
    template_name = TEMPLATES + "mine.html"
    page_title = _("My calendar")
    header_icon = "calendar"

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.page_title}]

    def get_agent(self):
        agent = connections.agent_for(self.request.user)
        if agent is None:  # saved when the form is, or when a calendar gets connected
            agent = Agent(
                user=self.request.user,
                time_zone=connections.default_time_zone(self.request.user),
            )
        return agent

    def get_context_data(self, form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        agent = self.get_agent() if form is None else form.instance
        connection = connections.connection_of(agent) if agent.pk else None
        context.update(
            agent=agent,
            connection=connection,
            form=form or AgentSettingsForm(instance=agent),
            connect_buttons=[
                (provider, CONNECT_LABELS[provider])
                for provider in connections.configured_providers()
            ],
        )
        return context

    def post(self, request, *args, **kwargs):
        form = AgentSettingsForm(request.POST, instance=self.get_agent())
        if form.is_valid():
            form.save()
            messages.success(request, _("Your meeting settings are saved."))
            return redirect(_url("mine"))
        messages.validation_error(request, _("Your settings could not be saved."), form)
        return self.render_to_response(self.get_context_data(form=form))


class ConnectView(AgentOnlyMixin, View):
    """POST: start the provider's sign-in (also "Sign in again")."""

    http_method_names = ["post"]

    def post(self, request, provider):
        agent = connections.agent_for(request.user, create=True)
        try:
            url = connections.connect_url(request, agent, provider)
        except connections.ConnectError as error:
            messages.error(request, str(error))
            return redirect(_url("mine"))
        return HttpResponseRedirect(url)


class CallbackView(View):
    """Where the provider sends the agent back, with a GET (Microsoft too: the provider layer
    asks for response_mode=query, as a cross-site form_post would arrive without the SameSite=Lax
    session cookie). ``finish_connect`` checks the one-time state kept in this user's session,
    so anyone else's (or a forged) callback is refused; no CSRF exemption is needed."""

    provider = None
    http_method_names = ["get"]

    def dispatch(self, request, *args, **kwargs):
        if not connections.can_take_meetings(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def finish(self, request, query):
        try:
            connection = connections.finish_connect(request, self.provider, query)
        except connections.ConnectError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("Your %(provider)s %(account)s is connected: visitors can book you now.")
                % {
                    "provider": connection.get_provider_display(),
                    "account": connection.account,
                },
            )
        return redirect(_url("mine"))

    def get(self, request):
        return self.finish(request, request.GET)


class DisconnectView(AgentOnlyMixin, WagtailAdminTemplateMixin, TemplateView):
    """GET asks for confirmation; POST revokes (best effort) and deletes the connection."""

    template_name = TEMPLATES + "disconnect.html"
    page_title = _("Disconnect your calendar")
    header_icon = "calendar"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": _url("mine"), "label": _("My calendar")},
            {"url": "", "label": self.page_title},
        ]

    def get_connection(self):
        agent = connections.agent_for(self.request.user)
        return connections.connection_of(agent) if agent else None

    def get(self, request, *args, **kwargs):
        connection = self.get_connection()
        if connection is None:
            return redirect(_url("mine"))
        return self.render_to_response(self.get_context_data(connection=connection))

    def post(self, request, *args, **kwargs):
        connection = self.get_connection()
        if connection is not None:
            connections.disconnect(connection)
            messages.success(
                request,
                _("Your calendar is disconnected: visitors cannot book you until you connect one."),
            )
        return redirect(_url("mine"))


urlpatterns = [
    path("", MyCalendarView.as_view(), name="mine"),
    path("connect/<str:provider>/", ConnectView.as_view(), name="connect"),
    path("disconnect/", DisconnectView.as_view(), name="disconnect"),
    path(
        "callback/google/",
        CallbackView.as_view(provider=CalendarConnection.GOOGLE),
        name="google_callback",
    ),
    path(
        "callback/microsoft/",
        CallbackView.as_view(provider=CalendarConnection.MICROSOFT),
        name="microsoft_callback",
    ),
]


# -- every agent, for admins (wagtail-modeladmin) ----------------------------------------------


class AgentPermissionHelper(PermissionHelper):
    """Users with "view agent" (sales admins, superusers) see every agent; agents themselves
    hold a permission on this model too ("take meetings"), which must not show them the list.
    Agents are created and edited from "My calendar" only."""

    def user_can_list(self, user):
        return connections.can_view_agents(user)

    def user_can_inspect_obj(self, user, obj):
        return self.inspect_view_enabled and connections.can_view_agents(user)

    def user_can_create(self, user):
        return False

    def user_can_edit_obj(self, user, obj):
        return False

    def user_can_delete_obj(self, user, obj):
        return False


class AgentAdmin(ModelAdmin):
    model = Agent
    base_url_path = "dynchat/agents"
    menu_label = _("Calendars")
    menu_icon = "calendar-alt"
    menu_order = 262
    permission_helper_class = AgentPermissionHelper
    inspect_view_enabled = True
    list_display = ("agent", "email", "calendar", "status", "in_rotation")
    list_filter = ("active", "connection__provider", "connection__status")
    search_fields = ("display_name", "user__first_name", "user__last_name", "user__email")
    inspect_view_fields = (
        "display_name",
        "time_zone",
        "meeting_minutes",
        "buffer_minutes",
        "min_notice_hours",
        "horizon_days",
        "daily_cap",
        "online_meeting",
        "active",
        "last_booked_at",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user", "connection")
            .order_by("display_name", "user__first_name", "user__last_name", "pk")
        )

    @staticmethod
    def _connection(obj):
        return connections.connection_of(obj)

    @display(description=_("Agent"))
    def agent(self, obj):
        return obj.name

    @display(description=_("E-mail"))
    def email(self, obj):
        return obj.user.email

    @display(description=_("Calendar"))
    def calendar(self, obj):
        connection = self._connection(obj)
        if connection is None:
            return _("None connected")
        return f"{connection.get_provider_display()}: {connection.account}"

    @display(description=_("Status"))
    def status(self, obj):
        connection = self._connection(obj)
        if connection is None:
            return _("Not connected")
        if connection.usable:
            return connection.get_status_display()
        return format_html(
            "<strong>{}</strong><br>{}",
            connection.get_status_display(),
            connection.status_message,
        )

    @display(description=_("Gets meetings"))
    def in_rotation(self, obj):
        connection = self._connection(obj)
        if not obj.active:
            return _("No: switched off")
        if connection is None or not connection.usable:
            return _("No: no readable calendar")
        return _("Yes")


# -- registration (called from wagtail_hooks) --------------------------------------------------


class MyCalendarMenuItem(MenuItem):
    def is_shown(self, request):
        return connections.can_take_meetings(request.user)


def _admin_urls():
    return [path("dynchat/calendar/", include((urlpatterns, NAMESPACE)))]


def _my_calendar_menu_item():
    return MyCalendarMenuItem(
        _("My calendar"), _url("mine"), name="dynchat-my-calendar", icon_name="calendar", order=259
    )


_registered = False


def register(listing=True):
    """Hook up the URLs and the "My calendar" menu item, and (with ``listing``) the admins'
    listing of every agent as its own menu item. A project or menu group that shows
    :class:`AgentAdmin` itself (e.g. in a ``ModelAdminGroup``) passes ``listing=False``."""
    global _registered
    if _registered:
        return
    _registered = True
    hooks.register("register_admin_urls", _admin_urls)
    hooks.register("register_admin_menu_item", _my_calendar_menu_item)
    if listing:
        modeladmin_register(AgentAdmin)

"""Meetings in the admin (wagtail-modeladmin): the listing with its filters and exports, each
meeting's details, routing decision and transcript, and the actions on a meeting.

A thin layer: every action calls a service of :mod:`wagtail_dynchat.meetings.booking` and reports
the outcome as a message, so the same views could move to a Wagtail viewset later.
"""

import datetime
import logging
from urllib.parse import urlsplit

from django import forms
from django.contrib.admin import SimpleListFilter, display
from django.contrib.admin.utils import quote
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import re_path, reverse
from django.utils import timezone, translation
from django.utils.dateformat import format as date_format
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin import messages
from wagtail.admin.admin_url_finder import register_admin_url_finder
from wagtail.log_actions import log
from wagtail.permissions import policy_registry
from wagtail_modeladmin.helpers import PermissionHelper
from wagtail_modeladmin.options import ModelAdmin
from wagtail_modeladmin.views import IndexView, InspectView, InstanceSpecificView

from ..models import Agent, Conversation, Meeting
from .people import person_url

logger = logging.getLogger(__name__)

# Meetings that still hold the agent's time can be cancelled, moved and handed over.
OPEN = Meeting.HOLDING
# Meetings that took place (or should have) can be marked as completed or as a no-show, once
# they have started. The booking service has the last word either way.
OUTCOME_FROM = (*Meeting.HOLDING, Meeting.COMPLETED, Meeting.NO_SHOW)


def booking_service():
    """The booking services, imported when an action runs (the admin never holds their logic)."""
    from ..meetings import booking

    return booking


def service_errors():
    """The exceptions of a refused change (slot taken, meeting no longer booked …)."""
    return (booking_service().BookingError, ValueError)


def csv_safe(value):
    """A text cell a spreadsheet won't run as a formula (visitors type e-mail addresses)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def local_time_label(value):
    """A datetime in the current (the admin user's) time zone, with the zone's abbreviation."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{date_format(local, get_format('DATETIME_FORMAT'))} {local.tzname()}"


# ---- the listing ------------------------------------------------------------------------------


class WhenFilter(SimpleListFilter):
    """Upcoming (starting from now on) or past meetings."""

    title = _("when")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("upcoming", _("Upcoming")), ("past", _("Past"))]

    def queryset(self, request, queryset):
        if self.value() == "upcoming":
            return queryset.filter(starts_at__gte=timezone.now())
        if self.value() == "past":
            return queryset.filter(starts_at__lt=timezone.now())
        return queryset


class MeetingPermissionHelper(PermissionHelper):
    """Meetings come from visitors and change only through the actions (which keep the agent's
    calendar and the visitor's invitation in step), so nobody adds, edits or deletes them here."""

    def user_can_create(self, user):
        return False

    def user_can_edit_obj(self, user, obj):
        return False

    def user_can_delete_obj(self, user, obj):
        return False

    def user_can_act_on_obj(self, user, obj):
        return self.user_has_specific_permission(user, self.get_perm_codename("change"))


class MeetingIndexView(IndexView):
    """The listing; exports show times in the admin's zone, named in the column heading."""

    def dispatch(self, request, *args, **kwargs):
        # CSV rows are written while the response streams, after the admin's time zone and
        # language were switched back: fix both now.
        self.time_zone = timezone.get_current_timezone()
        self.language = translation.get_language()
        self.headings = {
            "email": gettext("Booked by"),
            "agent": gettext("Agent"),
            "dialogue": gettext("Dialogue"),
            "page_url": gettext("Page"),
            "starts_at": gettext("Scheduled for (%(zone)s)")
            % {"zone": timezone.get_current_timezone_name()},
            "status": gettext("Status"),
        }
        self.custom_value_preprocess = {
            **self.custom_value_preprocess,
            str: {self.FORMAT_CSV: csv_safe},
        }
        return super().dispatch(request, *args, **kwargs)

    def get_heading(self, queryset, field):
        return self.headings.get(field) or super().get_heading(queryset, field)

    def to_row_dict(self, item):
        values = {
            "email": item.email,
            "agent": item.agent.name,
            "dialogue": str(item.dialogue) if item.dialogue else "",
            "page_url": item.page_url,
            # Naive local times: spreadsheets have no zones; the heading names it.
            "starts_at": timezone.localtime(item.starts_at, self.time_zone).replace(tzinfo=None),
        }
        with translation.override(self.language):
            values["status"] = str(item.get_status_display())
        return {field: values[field] for field in self.list_export}

    def preprocess_field_value(self, field, value, export_format):
        if field == "starts_at" and export_format == self.FORMAT_CSV:
            return value.strftime("%Y-%m-%d %H:%M")
        return super().preprocess_field_value(field, value, export_format)


# ---- the meeting's page and its actions -------------------------------------------------------


class RescheduleForm(forms.Form):
    starts_at = forms.DateTimeField(
        label=_("New time"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In your time zone (%(zone)s)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["starts_at"]
        field.help_text = field.help_text % {"zone": timezone.get_current_timezone_name()}


class ReassignForm(forms.Form):
    agent = forms.ModelChoiceField(label=_("Agent"), queryset=Agent.objects.none())

    def __init__(self, *args, meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = (
            Agent.objects.filter(active=True)
            .exclude(pk=meeting.agent_id)
            .select_related("user")
            .order_by("display_name", "user__first_name", "user__last_name", "pk")
        )


STEP_LABELS = {
    "account": _("Account routing"),
    "rule": _("Routing rule"),
    "queue": _("The meeting card's queue"),
    "fallback": _("Fallback: nobody was available"),
}
HISTORY_LABELS = {
    "cancelled": _("Cancelled"),
    "rescheduled": _("Rescheduled"),
    "reassigned": _("Reassigned"),
    "completed": _("Marked completed"),
    "no_show": _("Marked no-show"),
}


def _moment(value):
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def routing_table(log_data):
    """The routing decision log (see :func:`wagtail_dynchat.meetings.routing.route`) as rows to
    show: the step that decided, every step tried with each agent considered and why they were
    skipped, and the changes made to the meeting since. Reasons are read from their codes, so
    they show in the admin's language whatever the visitor's was."""
    from ..meetings.routing import REASONS

    log_data = log_data if isinstance(log_data, dict) else {}
    rules = {rule.get("id"): rule for rule in log_data.get("rules") or [] if isinstance(rule, dict)}
    agents = {}

    def reason(code, fallback=""):
        return str(REASONS[code]) if code in REASONS else (fallback or code or "")

    stages = []
    for stage in log_data.get("stages") or []:
        step = stage.get("step", "")
        if step == "account":
            account = log_data.get("account") or {}
            detail = gettext("%(account)s, matched by %(how)s %(value)s") % {
                "account": account.get("name") or account.get("domain") or "?",
                "how": gettext("e-mail domain")
                if account.get("matched_by") == "domain"
                else gettext("company name"),
                "value": account.get("value") or "",
            }
        elif step == "rule":
            rule = rules.get(stage.get("rule")) or {}
            detail = gettext("“%(rule)s” (priority %(priority)s) → queue “%(queue)s”") % {
                "rule": rule.get("name", "?"),
                "priority": rule.get("priority", "?"),
                "queue": stage.get("queue_name", "?"),
            }
        else:
            detail = gettext("Queue “%(queue)s”") % {"queue": stage.get("queue_name", "?")}
        rows = []
        for agent in stage.get("agents") or []:
            agents[agent.get("id")] = agent.get("name", "")
            code = agent.get("skipped")
            rows.append(
                {
                    "name": agent.get("name", ""),
                    "skipped": bool(code),
                    "outcome": reason(code, agent.get("why")) if code else gettext("Free"),
                }
            )
        stages.append(
            {
                "step": STEP_LABELS.get(step, step),
                "detail": detail,
                "decided": bool(stage.get("decided")),
                "agents": rows,
            }
        )

    chosen = log_data.get("chosen") or {}
    attempts = [
        {"name": attempt.get("name", ""), "outcome": reason(attempt.get("skipped"))}
        for attempt in log_data.get("attempts") or []
    ]
    history = []
    for entry in log_data.get("history") or []:
        details = ""
        if entry.get("action") == "rescheduled":
            before, after = _moment(entry.get("from")), _moment(entry.get("to"))
            details = gettext("from %(before)s to %(after)s") % {
                "before": local_time_label(before) if before else "?",
                "after": local_time_label(after) if after else "?",
            }
        elif entry.get("action") == "reassigned":
            details = gettext("from %(before)s to %(after)s") % {
                "before": agents.get(entry.get("from")) or agent_name(entry.get("from")),
                "after": agents.get(entry.get("to")) or agent_name(entry.get("to")),
            }
        history.append(
            {
                "at": _moment(entry.get("at")),
                "action": HISTORY_LABELS.get(entry.get("action"), entry.get("action", "")),
                "by": entry.get("by", ""),
                "details": details,
            }
        )
    return {
        "known": bool(log_data.get("stages") or log_data.get("step")),
        "step": STEP_LABELS.get(log_data.get("step"), log_data.get("step") or ""),
        "chosen": chosen.get("name", ""),
        "why": log_data.get("why", ""),
        "rules": [
            {
                "name": rule.get("name", ""),
                "priority": rule.get("priority", ""),
                "matched": bool(rule.get("matched")),
            }
            for rule in rules.values()
        ],
        "stages": stages,
        "attempts": attempts,
        "history": history,
    }


def agent_name(pk):
    agent = Agent.objects.select_related("user").filter(pk=pk).first() if pk else None
    return agent.name if agent else "?"


class MeetingInspectView(InspectView):
    def get_context_data(self, **kwargs):
        meeting = self.instance
        user = self.request.user
        can_act = self.permission_helper.user_can_act_on_obj(user, meeting)
        conversation = meeting.conversation
        started = meeting.starts_at <= timezone.now()
        context = {
            "meeting": meeting,
            "scheduled_label": local_time_label(meeting.starts_at),
            "time_zone": timezone.get_current_timezone_name(),
            "routing": routing_table(meeting.routing_log),
            "transcript": conversation.transcript if conversation else [],
            "conversation": conversation,
            "conversation_url": conversation_url(user, conversation),
            "person_url": person_url(user, meeting.person),
            "answers": [
                pair
                for pair in meeting.answers or []
                if isinstance(pair, list | tuple) and len(pair) == 2
            ],
            "page_link": page_link(meeting),
            "can_cancel": can_act and meeting.status in OPEN,
            "can_reschedule": can_act and meeting.status in OPEN,
            "can_reassign": can_act and meeting.status in OPEN,
            "can_set_outcome": can_act and started and meeting.status in OUTCOME_FROM,
            "reschedule_form": RescheduleForm(
                initial={"starts_at": timezone.localtime(meeting.starts_at)}
            ),
            "reassign_form": ReassignForm(meeting=meeting),
            "action_urls": {
                name: self.url_helper.get_action_url(name, self.pk_quoted) for name in ACTIONS
            },
        }
        context.update(kwargs)
        return super().get_context_data(**context)


def conversation_url(user, conversation):
    """The conversation's own admin page, for users allowed to see it."""
    if conversation is None:
        return ""
    policy = policy_registry.get_by_type(Conversation)
    if not policy.user_has_any_permission(user, ["view", "change", "delete"]):
        return ""
    return reverse("wagtail_dynchat_conversations:inspect", args=[conversation.pk])


def page_link(meeting):
    """The page the meeting was booked on, as a link only when it is a web address."""
    url = meeting.page_url
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    return format_html('<a href="{}" rel="noreferrer">{}</a>', url, parts.path or url)


class MeetingActionView(InstanceSpecificView):
    """One action on one meeting: POST only (with Django's CSRF check), then back to its page."""

    http_method_names = ["post"]
    action = None

    def __init__(self, model_admin, instance_pk, action):
        super().__init__(model_admin, instance_pk)
        self.action = action

    def check_action_permitted(self, user):
        return self.permission_helper.user_can_act_on_obj(user, self.instance)

    def post(self, request, *args, **kwargs):
        meeting = self.instance
        name, perform = ACTIONS[self.action]
        try:
            success = perform(self, meeting)
        except forms.ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except service_errors() as error:
            messages.error(
                request,
                gettext("%(action)s failed: %(reason)s")
                % {"action": name, "reason": reason(error)},
            )
        except Exception:
            # The action's outcome is unknown to the admin: say so rather than fail the page.
            logger.exception("Meeting %s: %s failed", meeting.pk, self.action)
            messages.error(
                request,
                gettext("%(action)s failed unexpectedly; the error was logged.") % {"action": name},
            )
        else:
            log(instance=meeting, action=f"wagtail_dynchat.meeting.{self.action}")
            messages.success(request, success)
        return redirect(self.url_helper.get_action_url("inspect", self.pk_quoted))


def reason(error):
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or error.__class__.__name__


def bound_form(view, form_class, **kwargs):
    form = form_class(view.request.POST, **kwargs)
    if not form.is_valid():
        raise forms.ValidationError(
            [
                f"{form.fields[field].label}: {' '.join(errors)}"
                for field, errors in form.errors.items()
            ]
        )
    return form.cleaned_data


def cancel(view, meeting):
    booking_service().cancel(meeting, by=view.request.user)
    return gettext("The meeting with %(email)s was cancelled.") % {"email": meeting.email}


def reschedule(view, meeting):
    starts_at = bound_form(view, RescheduleForm)["starts_at"]
    booking_service().reschedule(meeting, starts_at, by=view.request.user)
    return gettext("The meeting with %(email)s was moved to %(time)s.") % {
        "email": meeting.email,
        "time": local_time_label(starts_at),
    }


def complete(view, meeting):
    booking_service().set_status(meeting, Meeting.COMPLETED, by=view.request.user)
    return gettext("The meeting with %(email)s was marked as completed.") % {"email": meeting.email}


def no_show(view, meeting):
    booking_service().set_status(meeting, Meeting.NO_SHOW, by=view.request.user)
    return gettext("The meeting with %(email)s was marked as a no-show.") % {"email": meeting.email}


def reassign(view, meeting):
    agent = bound_form(view, ReassignForm, meeting=meeting)["agent"]
    booking_service().reassign(meeting, agent, by=view.request.user)
    return gettext("The meeting with %(email)s now is with %(agent)s.") % {
        "email": meeting.email,
        "agent": agent.name,
    }


ACTIONS = {
    "cancel": (_("Cancel"), cancel),
    "reschedule": (_("Reschedule"), reschedule),
    "complete": (_("Mark completed"), complete),
    "no_show": (_("Mark no-show"), no_show),
    "reassign": (_("Reassign"), reassign),
}


@hooks.register("register_log_actions")
def register_meeting_log_actions(actions):
    actions.register_action(
        "wagtail_dynchat.meeting.cancel", _("Cancel meeting"), _("Cancelled the meeting")
    )
    actions.register_action(
        "wagtail_dynchat.meeting.reschedule", _("Reschedule meeting"), _("Moved the meeting")
    )
    actions.register_action(
        "wagtail_dynchat.meeting.complete", _("Mark completed"), _("Marked as completed")
    )
    actions.register_action(
        "wagtail_dynchat.meeting.no_show", _("Mark no-show"), _("Marked as a no-show")
    )
    actions.register_action(
        "wagtail_dynchat.meeting.reassign",
        _("Reassign meeting"),
        _("Gave the meeting to another agent"),
    )


class MeetingURLFinder:
    """Links to a meeting (audit log, reports) lead to its page for users who may see it."""

    model_admin = None

    def __init__(self, user):
        self.user = user

    def get_edit_url(self, instance):
        helper = self.model_admin.permission_helper
        if self.user is None or helper.user_can_inspect_obj(self.user, instance):
            return self.model_admin.url_helper.get_action_url("inspect", quote(instance.pk))
        return None


class MeetingAdmin(ModelAdmin):
    model = Meeting
    menu_label = _("Meetings")
    menu_icon = "date"
    base_url_path = "dynchat/meetings"
    permission_helper_class = MeetingPermissionHelper
    index_view_class = MeetingIndexView
    inspect_view_class = MeetingInspectView
    inspect_view_enabled = True
    inspect_template_name = "wagtail_dynchat/admin/meetings/inspect.html"
    list_display = ("email", "agent", "dialogue", "page", "scheduled", "status")
    list_display_add_buttons = "email"
    list_filter = (WhenFilter, "status", "agent")
    list_select_related = ("agent__user", "dialogue")
    search_fields = (
        "email",
        "agent__display_name",
        "agent__user__email",
        "agent__user__first_name",
        "agent__user__last_name",
        "agent__user__username",
    )
    list_export = ("email", "agent", "dialogue", "page_url", "starts_at", "status")
    export_filename = "meetings"
    ordering = ("-starts_at",)

    @display(description=_("page"))
    def page(self, obj):
        return page_link(obj)

    @display(description=_("scheduled for"), ordering="starts_at")
    def scheduled(self, obj):
        return local_time_label(obj.starts_at)

    def get_admin_urls_for_registration(self):
        # No add, edit or delete views (see MeetingPermissionHelper); one view per action.
        refused = {self.url_helper.get_action_url_name(a) for a in ("create", "edit", "delete")}
        urls = tuple(
            url for url in super().get_admin_urls_for_registration() if url.name not in refused
        )
        for action in ACTIONS:
            urls += (
                re_path(
                    self.url_helper.get_action_url_pattern(action),
                    self.action_view(action),
                    name=self.url_helper.get_action_url_name(action),
                ),
            )
        return urls

    def register_admin_url_finders(self):
        # A meeting's admin page is its inspect view (there is no edit view).
        register_admin_url_finder(
            Meeting, type("MeetingURLFinder", (MeetingURLFinder,), {"model_admin": self})
        )

    def action_view(self, action):
        def view(request, instance_pk):
            return MeetingActionView.as_view(
                model_admin=self, instance_pk=instance_pk, action=action
            )(request)

        return view

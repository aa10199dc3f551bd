"""Routing in the admin (wagtail-modeladmin): queues with their agents in order and who is next,
routing rules by priority, and the accounts list with its CSV import and export.

A thin layer over the models and :mod:`wagtail_dynchat.meetings.routing`; the only logic here is
reading an uploaded accounts file, which the import view shows line by line.
"""

import csv
import io

from django import forms
from django.contrib.admin import display
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.db.models.functions import Lower
from django.shortcuts import redirect
from django.urls import re_path
from django.utils.functional import cached_property
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.generic.edit import FormView
from wagtail.admin import messages
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, InlinePanel, ObjectList
from wagtail_modeladmin.options import ModelAdmin
from wagtail_modeladmin.views import IndexView, WMABaseView

from ..meetings.availability import connection_of
from ..meetings.routing import order_members
from ..models import Account, Agent, MeetingQueue, QueueMember, RoutingRule
from .meetings import csv_safe

# ---- queues -----------------------------------------------------------------------------------


def in_rotation(member):
    """Whether the queue member can be offered: takes meetings, weight above 0, with a calendar
    that works (free slots aside)."""
    agent = member.agent
    if not agent.active or member.weight == 0:
        return False
    connection = connection_of(agent)
    return connection is not None and connection.usable


def next_agent(queue):
    """Who the queue offers first, free slots aside: the routing service's order for the queue's
    strategy, skipping agents out of rotation. Read-only; None when nobody is in rotation.

    ``queue.members`` should be prefetched with their agents and connections.
    """
    for member in order_members(queue, list(queue.members.all())):
        if in_rotation(member):
            return member.agent
    return None


class QueueAdmin(ModelAdmin):
    model = MeetingQueue
    menu_label = _("Queues")
    menu_icon = "list-ol"
    base_url_path = "dynchat/queues"
    list_display = ("name", "strategy", "agents", "next_in_line")
    search_fields = ("name",)
    ordering = ("name",)
    panels = [
        FieldPanel("name"),
        FieldPanel("strategy"),
        InlinePanel(
            "members",
            label=_("agent"),
            heading=_("Agents, in order"),
            help_text=_(
                "Drag agents into the order they take meetings in. The weight counts in weighted "
                "queues: an agent with weight 2 takes twice as many meetings as one with weight "
                "1. Weight 0 takes an agent out of this queue in any strategy."
            ),
            panels=[FieldPanel("agent"), FieldPanel("weight")],
        ),
    ]

    def get_queryset(self, request):
        members = QueueMember.objects.select_related("agent__user", "agent__connection")
        return (
            super()
            .get_queryset(request)
            .select_related("last_agent")
            .prefetch_related(Prefetch("members", queryset=members.order_by("sort_order", "pk")))
        )

    @display(description=_("agents"))
    def agents(self, obj):
        return ", ".join(member.agent.name for member in obj.members.all()) or "-"

    @display(description=_("next agent (free slots aside)"))
    def next_in_line(self, obj):
        agent = next_agent(obj)
        return agent.name if agent else gettext("Nobody is in rotation")


# ---- routing rules ----------------------------------------------------------------------------


def audience_summary(rule):
    """The rule's audience in one line, as the dialogue listing summarises audiences."""
    for child in rule.audience:
        summary = child.block.summarise(child.value)
        if summary:
            return summary
    return gettext("Everyone")


class RoutingRuleAdmin(ModelAdmin):
    model = RoutingRule
    menu_label = _("Routing rules")
    menu_icon = "crosshairs"
    base_url_path = "dynchat/routing-rules"
    list_display = ("name", "priority", "who", "queue", "active")
    list_filter = ("active", "queue")
    search_fields = ("name",)
    ordering = ("-priority", "pk")
    list_select_related = ("queue",)
    panels = [
        FieldPanel("name"),
        FieldPanel("priority"),
        FieldPanel("audience"),
        FieldPanel("queue"),
        FieldPanel("active"),
    ]

    @display(description=_("audience"))
    def who(self, obj):
        return audience_summary(obj)


# ---- accounts ---------------------------------------------------------------------------------

IMPORT_COLUMNS = ("name", "domain", "agent_email")
MAX_IMPORT_BYTES = 2 * 1024 * 1024
validate_domain = DomainNameValidator()
NAME_LENGTH = Account._meta.get_field("name").max_length
DOMAIN_LENGTH = Account._meta.get_field("domain").max_length


def normalise_domain(value):
    """``@Example.COM `` → ``example.com``: what account routing compares e-mail domains with."""
    return (value or "").strip().lstrip("@").strip().lower().rstrip(".")


def domain_error(domain):
    """Why ``domain`` (normalised) can't be an account's domain, or None."""
    try:
        validate_domain(domain)
    except ValidationError:
        return gettext("“%(domain)s” is not a domain such as example.com.") % {"domain": domain}
    if len(domain) > DOMAIN_LENGTH:
        return gettext("The domain is longer than %(length)d characters.") % {
            "length": DOMAIN_LENGTH
        }
    return None


class AccountForm(WagtailAdminModelForm):
    def clean_domain(self):
        domain = normalise_domain(self.cleaned_data.get("domain"))
        if domain:
            error = domain_error(domain)
            if error:
                raise ValidationError(error)
            others = Account.objects.exclude(pk=self.instance.pk)
            taken = others.filter(domain__iexact=domain).first()
            if taken:
                raise ValidationError(
                    gettext("%(domain)s already belongs to the account “%(account)s”.")
                    % {"domain": domain, "account": taken}
                )
        return domain

    def clean(self):
        cleaned = super().clean()
        blank = not (cleaned.get("name") or "").strip() and not cleaned.get("domain")
        if blank and "domain" not in self.errors:
            # On the field, so the model's check constraint (same rule) is not reported twice.
            self.add_error("domain", gettext("Give the company's name, its domain or both."))
        return cleaned


def read_accounts(text):
    """Parse an accounts CSV (header ``name,domain,agent_email``).

    Returns ``(accounts, errors)``: unsaved :class:`Account` objects for every line, and
    ``[(line number, message), …]`` for every problem. Line numbers count the header as line 1.
    """
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        return [], [
            (1, gettext("The file is empty: the first line must be name,domain,agent_email."))
        ]
    # Spreadsheets set to some languages save with semicolons.
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [column.strip().lower() for column in next(reader)]
    missing = [column for column in IMPORT_COLUMNS if column not in header]
    unknown = [column for column in header if column not in IMPORT_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        return [], [
            (
                1,
                gettext(
                    "The first line must name the columns name, domain and agent_email "
                    "(found: %(found)s)."
                )
                % {"found": ", ".join(header) or "-"},
            )
        ]
    position = {column: header.index(column) for column in IMPORT_COLUMNS}

    rows, errors = [], []
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            # A broken quote or an oversized value: nothing after it can be read reliably.
            errors.append(
                (
                    line + 1,
                    gettext("The file can't be read from here on: %(error)s") % {"error": error},
                )
            )
            break
        number, line = line + 1, reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            errors.append(
                (
                    number,
                    gettext("Expected %(expected)d values, found %(found)d.")
                    % {"expected": len(header), "found": len(values)},
                )
            )
            continue
        row = {column: values[index].strip() for column, index in position.items()}
        row["domain"] = normalise_domain(row["domain"])
        row["agent_email"] = row["agent_email"].lower()
        rows.append((number, row))

    agents = agents_by_email()
    domains = [row["domain"] for _number, row in rows if row["domain"]]
    existing = {
        account.normalised: account
        for account in Account.objects.annotate(normalised=Lower("domain")).filter(
            normalised__in=domains
        )
    }

    accounts, first_line_of = [], {}
    for number, row in rows:
        if not row["name"] and not row["domain"]:
            errors.append((number, gettext("Give the company's name, its domain or both.")))
        if len(row["name"]) > NAME_LENGTH:
            errors.append(
                (
                    number,
                    gettext("The name is longer than %(length)d characters.")
                    % {"length": NAME_LENGTH},
                )
            )
        domain = row["domain"]
        if domain:
            error = domain_error(domain)
            if error:
                errors.append((number, error))
            elif domain in first_line_of:
                errors.append(
                    (
                        number,
                        gettext("%(domain)s is already on line %(line)d.")
                        % {"domain": domain, "line": first_line_of[domain]},
                    )
                )
            elif domain in existing:
                errors.append(
                    (
                        number,
                        gettext("%(domain)s already belongs to the account “%(account)s”.")
                        % {"domain": domain, "account": existing[domain]},
                    )
                )
            first_line_of.setdefault(domain, number)
        email = row["agent_email"]
        agent = agents.get(email)
        if not email:
            errors.append((number, gettext("The agent_email is missing.")))
        elif agent is None:
            errors.append(
                (
                    number,
                    gettext("No calendar agent has the e-mail address %(email)s.")
                    % {"email": email},
                )
            )
        elif agent is AMBIGUOUS:
            errors.append(
                (
                    number,
                    gettext("Several agents have the e-mail address %(email)s.") % {"email": email},
                )
            )
        else:
            accounts.append(Account(name=row["name"], domain=domain, agent=agent))

    if not rows and not errors:
        errors.append((2, gettext("The file has no accounts below its first line.")))
    errors.sort(key=lambda error: error[0])
    return accounts, errors


AMBIGUOUS = object()


def agents_by_email():
    """``{e-mail (lower case): agent, or AMBIGUOUS when several agents share it}``."""
    found = {}
    for agent in Agent.objects.select_related("user").exclude(user__email=""):
        email = agent.user.email.lower()
        found[email] = AMBIGUOUS if email in found else agent
    return found


class AccountImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 text whose first line is name,domain,agent_email; one account per line after "
            "it. Leave the name or the domain blank, not both."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(gettext("The file is larger than 2 MB."))
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(
                gettext("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
            ) from None


class AccountImportView(WMABaseView, FormView):
    """Upload a CSV of accounts. All or nothing: one bad line and no account is imported."""

    form_class = AccountImportForm
    template_name = "wagtail_dynchat/admin/routing/account_import.html"
    page_title = _("Import accounts")

    def check_action_permitted(self, user):
        return self.permission_helper.user_can_create(user)

    def form_valid(self, form):
        accounts, errors = read_accounts(form.cleaned_data["file"])
        if not errors:
            try:
                with transaction.atomic():
                    Account.objects.bulk_create(accounts)
            except IntegrityError:
                # Someone added one of these domains meanwhile; the next upload names it.
                errors = [
                    (0, gettext("The accounts changed while importing; upload the file again."))
                ]
        if errors:
            messages.error(
                self.request,
                ngettext(
                    "Nothing was imported: %(count)d problem.",
                    "Nothing was imported: %(count)d problems.",
                    len(errors),
                )
                % {"count": len(errors)},
            )
            return self.render_to_response(self.get_context_data(form=form, errors=errors))
        messages.success(
            self.request,
            ngettext("Imported %(count)d account.", "Imported %(count)d accounts.", len(accounts))
            % {"count": len(accounts)},
        )
        return redirect(self.index_url)


class AccountIndexView(IndexView):
    """The accounts listing. Its CSV export has the import's columns, so a file exported from
    one site imports into another."""

    export_headings = {column: column for column in IMPORT_COLUMNS}

    def dispatch(self, request, *args, **kwargs):
        self.custom_value_preprocess = {
            **self.custom_value_preprocess,
            str: {self.FORMAT_CSV: csv_safe},
        }
        return super().dispatch(request, *args, **kwargs)

    def to_row_dict(self, item):
        # Blank stays blank (not the listing's "-"), so the file can be imported again.
        values = {"name": item.name, "domain": item.domain, "agent_email": item.agent.user.email}
        return {field: values[field] for field in self.list_export}

    @cached_property
    def import_url(self):
        return self.url_helper.get_action_url("import")

    @cached_property
    def user_can_import(self):
        return self.permission_helper.user_can_create(self.request.user)


class AccountAdmin(ModelAdmin):
    model = Account
    menu_label = _("Accounts")
    menu_icon = "site"
    base_url_path = "dynchat/accounts"
    index_view_class = AccountIndexView
    index_template_name = "wagtail_dynchat/admin/routing/account_index.html"
    list_display = ("name", "domain", "agent")
    list_filter = ("agent",)
    list_select_related = ("agent__user",)
    search_fields = ("name", "domain", "agent__display_name", "agent__user__email")
    list_export = IMPORT_COLUMNS
    export_filename = "accounts"
    ordering = ("name", "domain")
    edit_handler = ObjectList(
        [FieldPanel("name"), FieldPanel("domain"), FieldPanel("agent")],
        base_form_class=AccountForm,
    )

    @display(description=_("agent e-mail"))
    def agent_email(self, obj):
        return obj.agent.user.email

    def get_admin_urls_for_registration(self):
        return (
            *super().get_admin_urls_for_registration(),
            re_path(
                rf"^{self.url_helper.base_url_path}/import/$",
                self.import_view,
                name=self.url_helper.get_action_url_name("import"),
            ),
        )

    def import_view(self, request):
        return AccountImportView.as_view(model_admin=self)(request)

"""The "Marketo fields" admin: pick the Marketo person and company fields dialogues may use.

Marketo's lead and company fields (its describe endpoints, cached for a day, with a Refresh
button) are listed next to the mapping. An admin maps up to 50 fields per object, each with
the name dialogues use (``{{ person.<name> }}``, ``company.<name>`` in rules) and a label;
mapped lead fields that Marketo lets us write can be written back with captured answers.
Removing or renaming a field that a live dialogue uses is refused, naming the dialogues.

Users need the model permissions on Marketo fields (add, change, delete; superusers have all).
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import View
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.permission_policies import ModelPermissionPolicy

from ..attributes import get_attributes
from ..marketo import describe, field_usage
from ..marketo.mapping import LEAD_FIELDS
from ..marketo.outbox import is_configured
from ..models import MarketoField
from ..person_fields import get_person_fields

permission_policy = ModelPermissionPolicy(MarketoField)
NAMESPACE = "wagtail_dynchat_marketo_fields"
OBJECTS = (MarketoField.OBJECT_LEAD, MarketoField.OBJECT_COMPANY)
ANY_PERMISSION = ("add", "change", "delete")
#: Names in dialogues are tokens' and rules' identifiers: ASCII, as the token syntax expects.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def default_name(rest_name):
    """The name a REST name gets in dialogues: ``annualRevenue`` → ``annual_revenue``."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", _CAMEL.sub("_", rest_name)).strip("_").lower()
    if not name:
        return "field"
    return f"f_{name}" if name[0].isdigit() else name[:100]


def reserved_names(object_, exclude_pk=None):
    """Names a mapped field of ``object_`` may not take: built-in and other fields' names."""
    mapped = dict(MarketoField.objects.filter(object=object_).values_list("pk", "name"))
    others = {name for pk, name in mapped.items() if pk != exclude_pk}
    if object_ == MarketoField.OBJECT_LEAD:
        known = set(get_person_fields())
    else:
        prefix = "company."
        known = {name.removeprefix(prefix) for name in get_attributes() if name.startswith(prefix)}
    # The registries list this mapping's own fields too: only the others' names are taken.
    return others | (known - set(mapped.values()))


class MarketoFieldForm(forms.ModelForm):
    """The name, label and write-back of one mapped field (the rest comes from Marketo)."""

    class Meta:
        model = MarketoField
        fields = ["name", "label", "write_back"]
        help_texts = {
            "name": gettext_lazy(
                "Used in dialogues, e.g. {{ person.industry }}: letters, digits and _, "
                "not starting with a digit."
            ),
        }

    def __init__(self, *args, adding=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.adding = adding
        field = self.instance
        if field.read_only or field.object == MarketoField.OBJECT_COMPANY:
            # Marketo would refuse the write (read-only), and companies are not written.
            del self.fields["write_back"]

    def clean_name(self):
        name = (self.cleaned_data.get("name") or "").strip()
        if not IDENTIFIER.match(name):
            raise forms.ValidationError(
                _(
                    "Use letters, digits and _ only, starting with a letter or _ "
                    "(it goes into tokens such as {{ person.%(example)s }})."
                )
                % {"example": "industry"}
            )
        if name in reserved_names(self.instance.object, exclude_pk=self.instance.pk):
            raise forms.ValidationError(
                _("“%(name)s” is already a field in dialogues. Choose another name.")
                % {"name": name}
            )
        old = self.initial.get("name") if self.instance.pk else None
        if old and old != name:
            dialogues = field_usage.usage(
                [field_usage.qualified_name(self.instance.object, old)]
            ).live_for(field_usage.qualified_name(self.instance.object, old))
            if dialogues:
                raise forms.ValidationError(
                    _("Live dialogues use “%(name)s”: %(dialogues)s. Change them first.")
                    % {"name": old, "dialogues": _dialogue_list(dialogues)}
                )
        return name

    def clean(self):
        cleaned = super().clean()
        if self.adding:
            count = MarketoField.objects.filter(object=self.instance.object).count()
            if count >= MarketoField.MAX_PER_OBJECT:
                raise forms.ValidationError(
                    _("At most %(max)d fields per object can be mapped; remove one first.")
                    % {"max": MarketoField.MAX_PER_OBJECT}
                )
        return cleaned

    def save(self, commit=True):
        field = super().save(commit=False)
        if "write_back" not in self.fields:
            field.write_back = False
        if commit:
            field.save()
        return field


def _dialogue_list(dialogues):
    return get_text_list([f"“{dialogue.name}”" for dialogue in dialogues], _("and"))


class _Base(WagtailAdminTemplateMixin, View):
    #: The view needs one of these permissions on Marketo fields.
    permissions = ANY_PERMISSION
    header_icon = "list-ul"
    http_method_names = ["get", "post"]

    def dispatch(self, request, *args, **kwargs):
        # A plain 403 rather than Wagtail's redirect to the dashboard: a refusal, said as one.
        if not permission_policy.user_has_any_permission(request.user, self.permissions):
            return HttpResponseForbidden(
                _("You do not have permission to change the Marketo field mapping.")
            )
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse(f"{NAMESPACE}:index"), "label": _("Marketo fields")},
            {"url": "", "label": self.get_page_title()},
        ]

    def render(self, status=200, **context):
        return TemplateResponse(
            self.request,
            self.template_name,
            self.get_context_data(**context),
            status=status,
        )


class IndexView(_Base):
    template_name = "wagtail_dynchat/admin/marketo_fields/index.html"
    page_title = gettext_lazy("Marketo fields")

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.get_page_title()}]

    def get(self, request):
        query = (request.GET.get("q") or "").strip()[:100]
        return self.render(sections=sections(query), query=query, configured=is_configured())

    def post(self, request):
        describe.forget()
        lead = describe.lead_catalog(refresh=True)
        if lead.error:
            messages.error(request, lead.error)
        else:
            messages.success(request, _("Fields reloaded from Marketo."))
        return redirect(f"{NAMESPACE}:index")


def sections(query=""):
    """What the index shows for each object: mapped fields (with uses) and Marketo's others."""
    mapped = list(MarketoField.objects.order_by("object", "sort_order", "pk"))
    uses = field_usage.usage(
        field_usage.qualified_name(field.object, field.name) for field in mapped
    )
    lead_catalog = describe.lead_catalog()
    on_leads = lead_catalog.by_name()
    found = []
    for object_ in OBJECTS:
        is_lead = object_ == MarketoField.OBJECT_LEAD
        catalog = lead_catalog if is_lead else describe.company_catalog()
        rows = [field for field in mapped if field.object == object_]
        for field in rows:
            name = field_usage.qualified_name(object_, field.name)
            field.live_dialogues = uses.live_for(name)
            field.draft_dialogues = uses.drafts_for(name)
            # Deleted in Marketo since (both objects are read from lead records): reads miss
            # it and write-backs would be refused (1006).
            field.missing = bool(on_leads) and field.rest_name not in on_leads
        taken = {field.rest_name for field in rows}
        available = []
        for item in catalog.fields:
            if not _listed(object_, item, taken):
                continue
            if query and query.lower() not in f"{item['rest_name']} {item['label']}".lower():
                continue
            reason = ""
            if object_ == MarketoField.OBJECT_COMPANY and item["rest_name"] not in on_leads:
                reason = _("Not on person records in Marketo, so it cannot be synced.")
            available.append({**item, "reason": reason})
        found.append(
            {
                "object": object_,
                "heading": _("Person fields")
                if object_ == MarketoField.OBJECT_LEAD
                else _("Company fields"),
                "builtins": _builtins() if object_ == MarketoField.OBJECT_LEAD else [],
                "mapped": rows,
                "full": len(rows) >= MarketoField.MAX_PER_OBJECT,
                "max": MarketoField.MAX_PER_OBJECT,
                "available": available,
                "catalog": catalog,
            }
        )
    return found


def _listed(object_, item, taken):
    rest_name = item["rest_name"]
    if rest_name in taken or rest_name in describe.SYSTEM_FIELDS:
        return False
    if object_ == MarketoField.OBJECT_LEAD:
        return rest_name not in LEAD_FIELDS.values()
    # The company's name is the built-in company.name; its external id is the company's key.
    return rest_name not in ("company", "externalCompanyId")


def _builtins():
    fields = get_person_fields()
    return [
        {"name": name, "rest_name": rest_name, "label": fields[name].label}
        for name, rest_name in LEAD_FIELDS.items()
        if name in fields
    ]


class AddView(_Base):
    permissions = ("add",)
    template_name = "wagtail_dynchat/admin/marketo_fields/form.html"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.object_ = kwargs["object_"]
        if self.object_ not in OBJECTS:
            raise Http404

    def get_page_title(self):
        return _("Map a Marketo field")

    def entry(self, rest_name):
        """The Marketo field to map, or a readable reason why it cannot be."""
        lead = describe.lead_catalog()
        catalog = lead if self.object_ == MarketoField.OBJECT_LEAD else describe.company_catalog()
        item = catalog.by_name().get(rest_name)
        if item is None:
            return None, catalog.error or _("Marketo has no field “%(name)s”.") % {
                "name": rest_name
            }
        if not _listed(self.object_, item, set()):
            return None, _("“%(name)s” is always mapped or cannot be mapped.") % {"name": rest_name}
        if self.object_ == MarketoField.OBJECT_COMPANY and rest_name not in lead.by_name():
            return None, _("Not on person records in Marketo, so it cannot be synced.")
        if MarketoField.objects.filter(object=self.object_, rest_name=rest_name).exists():
            return None, _("“%(name)s” is mapped already.") % {"name": rest_name}
        return item, ""

    def new_field(self, item):
        return MarketoField(
            object=self.object_,
            rest_name=item["rest_name"],
            data_type=item["data_type"],
            length=item["length"],
            read_only=item["read_only"],
            write_back=not item["read_only"] and self.object_ == MarketoField.OBJECT_LEAD,
        )

    def get(self, request, object_):
        item, error = self.entry((request.GET.get("field") or "").strip())
        if item is None:
            return self.render(status=400, error=error)
        field = self.new_field(item)
        form = MarketoFieldForm(
            instance=field,
            adding=True,
            initial={"name": default_name(item["rest_name"]), "label": item["label"]},
        )
        return self.render(form=form, field=field)

    def post(self, request, object_):
        item, error = self.entry((request.POST.get("field") or "").strip())
        if item is None:
            return self.render(status=400, error=error)
        field = self.new_field(item)
        form = MarketoFieldForm(request.POST, instance=field, adding=True)
        if not form.is_valid():
            return self.render(status=400, form=form, field=field)
        try:
            with transaction.atomic():
                field = form.save(commit=False)
                field.sort_order = (
                    MarketoField.objects.filter(object=self.object_).aggregate(
                        last=Max("sort_order")
                    )["last"]
                    or 0
                ) + 1
                field.save()
        except IntegrityError:
            # Another admin mapped the same field or name at the same moment.
            form.add_error(None, _("This field or name was mapped meanwhile. Reload the page."))
            return self.render(status=409, form=form, field=field)
        messages.success(request, _("“%(label)s” is mapped.") % {"label": field.label})
        return redirect(f"{NAMESPACE}:index")


class EditView(_Base):
    permissions = ("change",)
    template_name = "wagtail_dynchat/admin/marketo_fields/form.html"

    def get_page_title(self):
        return _("Edit a mapped field")

    def get(self, request, pk):
        field = get_object_or_404(MarketoField, pk=pk)
        return self.render(form=MarketoFieldForm(instance=field), field=field)

    def post(self, request, pk):
        field = get_object_or_404(MarketoField, pk=pk)
        form = MarketoFieldForm(request.POST, instance=field)
        if not form.is_valid():
            return self.render(status=400, form=form, field=field)
        try:
            with transaction.atomic():
                field = form.save()
        except IntegrityError:
            form.add_error("name", _("This name was taken meanwhile. Choose another name."))
            return self.render(status=409, form=form, field=field)
        messages.success(request, _("“%(label)s” is saved.") % {"label": field.label})
        return redirect(f"{NAMESPACE}:index")


class DeleteView(_Base):
    permissions = ("delete",)
    template_name = "wagtail_dynchat/admin/marketo_fields/delete.html"

    def get_page_title(self):
        return _("Remove a mapped field")

    def uses(self, field):
        name = field_usage.qualified_name(field.object, field.name)
        found = field_usage.usage([name])
        return found.live_for(name), found.drafts_for(name)

    def get(self, request, pk):
        field = get_object_or_404(MarketoField, pk=pk)
        live, drafts = self.uses(field)
        return self.render(field=field, live=live, drafts=drafts)

    def post(self, request, pk):
        field = get_object_or_404(MarketoField, pk=pk)
        live, drafts = self.uses(field)
        if live:
            return self.render(
                status=409,
                field=field,
                live=live,
                drafts=drafts,
                error=_(
                    "“%(label)s” cannot be removed: live dialogues use it: %(dialogues)s. "
                    "Change or unpublish them first."
                )
                % {"label": field.label, "dialogues": _dialogue_list(live)},
            )
        field.delete()
        messages.success(request, _("“%(label)s” is no longer mapped.") % {"label": field.label})
        if drafts:
            messages.warning(
                request,
                _("Drafts use it; change them before publishing: %(dialogues)s.")
                % {"dialogues": _dialogue_list(drafts)},
            )
        return redirect(f"{NAMESPACE}:index")


def get_urls():
    return [
        path("", IndexView.as_view(), name="index"),
        path("<str:object_>/add/", AddView.as_view(), name="add"),
        path("<int:pk>/", EditView.as_view(), name="edit"),
        path("<int:pk>/delete/", DeleteView.as_view(), name="delete"),
    ]


class MarketoFieldsMenuItem(MenuItem):
    """Shown to users who may change the mapping, when Marketo is configured."""

    def is_shown(self, request):
        return is_configured() and permission_policy.user_has_any_permission(
            request.user, ANY_PERMISSION
        )


def menu_item():
    return MarketoFieldsMenuItem(
        gettext_lazy("Marketo fields"),
        reverse(f"{NAMESPACE}:index"),
        name="dynchat-marketo-fields",
        icon_name="list-ul",
        order=910,
    )

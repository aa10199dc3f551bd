"""Privacy requests from the admin: export everything known about an e-mail address as JSON, or
erase it, with the services the management commands use (:mod:`wagtail_dynchat.reports.privacy`).

Exporting needs the view permission on people, erasing the delete permission (people are never
deleted otherwise, see :mod:`.people`). Erasing shows what it will do and asks for the address
again. Each erase is written to Wagtail's audit log as a log entry about a person, with the
counts and a keyed hash of the address (to answer "was this address erased?" later), never the
address itself.
"""

import json
import logging
from urllib.parse import urlencode

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models.functions import Lower
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import salted_hmac
from django.utils.http import content_disposition_header
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin import messages
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.log_actions import LogFormatter
from wagtail.models import ModelLogEntry

from ..models import Person
from ..reports import privacy

logger = logging.getLogger(__name__)

NAMESPACE = "wagtail_dynchat_privacy"
EXPORT_PERMISSION = "wagtail_dynchat.view_person"
ERASE_PERMISSION = "wagtail_dynchat.delete_person"
ERASE_ACTION = "wagtail_dynchat.privacy.erase"

#: What the export holds, as shown before erasing: (export key, model, label).
PREVIEW_ROWS = (
    ("person", "wagtail_dynchat.Person", _("Person")),
    ("visitors", "wagtail_dynchat.Visitor", _("Browsers (visitor cookies)")),
    ("conversations", "wagtail_dynchat.Conversation", _("Conversations")),
    ("events", "wagtail_dynchat.ConversationEvent", _("Conversation events")),
    ("meetings", "wagtail_dynchat.Meeting", _("Meetings")),
    ("marketo_outbox", "wagtail_dynchat.OutboxItem", _("Queued Marketo writes")),
)
OUTCOMES = {
    "deleted": _("Deleted"),
    "anonymised": _("Kept without personal data, so reports still add up"),
}
#: The counts :func:`~wagtail_dynchat.reports.privacy.erase` returns, as shown afterwards.
ERASED_LABELS = {
    "people": _("people"),
    "visitors": _("browsers"),
    "conversations": _("conversations"),
    "events": _("conversation events"),
    "meetings": _("meetings"),
    "outbox": _("queued Marketo writes"),
}


def can_export(user):
    """Whether ``user`` may export what is known about an e-mail address."""
    return user.is_active and user.has_perm(EXPORT_PERMISSION)


def can_erase(user):
    """Whether ``user`` may erase an e-mail address."""
    return user.is_active and user.has_perm(ERASE_PERMISSION)


def privacy_url(name, email=""):
    """The address of a privacy request page, with the e-mail address filled in."""
    url = reverse(f"{NAMESPACE}:{name}")
    return f"{url}?{urlencode({'email': email})}" if email else url


def preview_rows(data):
    """What erasing will do, per model, from an export: ``[{label, count, outcome}]``."""
    rows = []
    for key, model, label in PREVIEW_ROWS:
        if key == "person":
            count = 1 if data["person"] else 0
        elif key == "events":
            count = sum(len(c["events"]) for c in data["conversations"])
        else:
            count = len(data[key])
        rows.append(
            {"label": label, "count": count, "outcome": OUTCOMES[privacy.PERSONAL_MODELS[model]]}
        )
    return rows


def erased_summary(counts):
    """The erase counts as words: "1 people, 2 browsers …" (the labels are nouns in plural)."""
    # In a fixed order: counts read back from a jsonb log entry come in the database's key order.
    return ", ".join(
        f"{label}: {counts[name]}" for name, label in ERASED_LABELS.items() if name in counts
    )


def email_digest(email):
    """A keyed hash of the address: the same address gives the same digest on this site, and
    nobody without the SECRET_KEY can test addresses against it."""
    return salted_hmac(ERASE_ACTION, email, algorithm="sha256").hexdigest()


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        help_text=_("The address the person asked about, as they gave it."),
    )

    def clean_email(self):
        return privacy.normalise(self.cleaned_data["email"])


class ConfirmEraseForm(EmailForm):
    email = forms.EmailField(widget=forms.HiddenInput, max_length=254)
    confirm_email = forms.CharField(
        label=_("Type the e-mail address again to confirm"), max_length=254
    )

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email and privacy.normalise(cleaned.get("confirm_email")) != email:
            self.add_error("confirm_email", gettext("This is not the address being erased."))
        return cleaned


class PrivacyRequestView(WagtailAdminTemplateMixin, TemplateView):
    """The page with the e-mail form; the export and erase views answer its submissions."""

    page_title = _("Privacy requests")
    header_icon = "lock"
    template_name = "wagtail_dynchat/admin/privacy_requests/index.html"
    http_method_names = ["get"]

    def allowed(self, user):
        return can_export(user) or can_erase(user)

    def dispatch(self, request, *args, **kwargs):
        # A readable 403 rather than Wagtail's redirect to the dashboard: a bookmarked request
        # learns it was refused, and why.
        if not self.allowed(request.user):
            context = self.get_context_data(
                message=gettext("Sorry, you need the permission to view or to delete people.")
            )
            return TemplateResponse(
                request,
                "wagtail_dynchat/admin/refused.html",
                context,
                status=403,
            )
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        form = EmailForm(initial={"email": request.GET.get("email", "")})
        return self.page(form)

    def page(self, form, *, status=200, not_found=""):
        """The e-mail form, with its errors or the address nobody knows."""
        user = self.request.user
        context = self.get_context_data(
            form=form,
            not_found=not_found,
            export_url=privacy_url("export") if can_export(user) else "",
            erase_url=privacy_url("erase") if can_erase(user) else "",
        )
        return TemplateResponse(
            self.request, PrivacyRequestView.template_name, context, status=status
        )

    def submitted(self):
        return self.request.POST if self.request.method == "POST" else self.request.GET

    def get_breadcrumbs_items(self):
        items = [*self.breadcrumbs_items]
        if self.page_title != PrivacyRequestView.page_title:
            items.append({"url": privacy_url("index"), "label": PrivacyRequestView.page_title})
        return [*items, {"url": "", "label": self.page_title}]


class ExportView(PrivacyRequestView):
    """The JSON document of everything known about the address, as a download."""

    http_method_names = ["get", "post"]

    def allowed(self, user):
        return can_export(user)

    def get(self, request, *args, **kwargs):
        form = EmailForm(self.submitted())
        if not form.is_valid():
            return self.page(form, status=400)
        email = form.cleaned_data["email"]
        data = privacy.export(email)
        if not data["found"]:
            return self.page(form, status=404, not_found=email)
        logger.info(
            "Privacy export by user %s: %d conversations, %d meetings",
            request.user.pk,
            len(data["conversations"]),
            len(data["meetings"]),
        )
        response = HttpResponse(
            json.dumps(data, cls=privacy.JSON_ENCODER, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
            headers={
                "Content-Disposition": content_disposition_header(True, f"dynchat-{email}.json")
            },
        )
        # Personal data: no copy in a browser's or a proxy's cache.
        add_never_cache_headers(response)
        return response

    post = get


class EraseView(PrivacyRequestView):
    """What erasing the address will do, then (confirmed by typing it again) the erase."""

    page_title = _("Erase personal data")
    template_name = "wagtail_dynchat/admin/privacy_requests/erase.html"
    http_method_names = ["get", "post"]

    def allowed(self, user):
        return can_erase(user)

    def get(self, request, *args, **kwargs):
        form = EmailForm(self.submitted())
        if not form.is_valid():
            return self.page(form, status=400)
        email = form.cleaned_data["email"]
        return self.review(email, ConfirmEraseForm(initial={"email": email}))

    def review(self, email, confirm_form, *, status=200):
        data = privacy.export(email)
        if not data["found"]:
            return self.page(EmailForm(initial={"email": email}), status=404, not_found=email)
        context = self.get_context_data(
            email=email,
            rows=preview_rows(data),
            form=confirm_form,
            action_url=privacy_url("erase"),
            back_url=privacy_url("index"),
        )
        return TemplateResponse(self.request, self.template_name, context, status=status)

    def post(self, request, *args, **kwargs):
        if "confirm_email" not in request.POST:
            # The e-mail form's "Erase" button: show what will be erased first.
            return self.get(request, *args, **kwargs)
        form = EmailForm(request.POST)
        if not form.is_valid():
            return self.page(form, status=400)
        email = form.cleaned_data["email"]
        confirm_form = ConfirmEraseForm(request.POST)
        if not confirm_form.is_valid():
            return self.review(email, confirm_form, status=400)

        person_id = (
            Person.objects.alias(email_lower=Lower("email"))
            .filter(email_lower=email)
            .values_list("pk", flat=True)
            .first()
        )
        counts = privacy.erase(email)
        if not any(counts.values()):
            messages.warning(
                request, gettext("Nothing is known about this address: nothing was erased.")
            )
            return redirect(privacy_url("index"))
        log_erase(request.user, person_id, email, counts)
        messages.success(
            request,
            gettext("The personal data was erased (%(summary)s). Report figures are unchanged.")
            % {"summary": erased_summary(counts)},
        )
        return redirect(privacy_url("index"))


def log_erase(user, person_id, email, counts):
    """Record an erase in Wagtail's audit log (and the Python log), without the address.

    ``wagtail.log_actions.log()`` needs a saved instance and the person is gone, so the entry is
    written directly, about the person's former id ("0" when only meetings or queued writes
    matched).
    """
    logger.info("Privacy erase by user %s: %s", user.pk, counts)
    return ModelLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(Person),
        object_id=str(person_id or 0),
        label=gettext("Erased person #%(id)s") % {"id": person_id or 0},
        action=ERASE_ACTION,
        data={"counts": counts, "email_digest": email_digest(email)},
        user=user,
        timestamp=timezone.now(),
        deleted=person_id is not None,
    )


class EraseLogFormatter(LogFormatter):
    label = _("Erase personal data (privacy request)")

    def format_message(self, log_entry):
        counts = (log_entry.data or {}).get("counts") or {}
        return ngettext(
            "Erased the personal data of %(count)d person (%(summary)s)",
            "Erased the personal data of %(count)d people (%(summary)s)",
            counts.get("people", 0),
        ) % {"count": counts.get("people", 0), "summary": erased_summary(counts)}


def register_log_actions(actions):
    """For the ``register_log_actions`` hook."""
    actions.register_action(ERASE_ACTION)(EraseLogFormatter)


def get_urls():
    return [
        path("", PrivacyRequestView.as_view(), name="index"),
        path("export/", ExportView.as_view(), name="export"),
        path("erase/", EraseView.as_view(), name="erase"),
    ]


class PrivacyMenuItem(MenuItem):
    def is_shown(self, request):
        return can_export(request.user) or can_erase(request.user)


def menu_item():
    """For the Dynamic Chat menu's hook."""
    return PrivacyMenuItem(
        _("Privacy requests"),
        privacy_url("index"),
        name="dynchat-privacy",
        icon_name="lock",
        order=220,
    )

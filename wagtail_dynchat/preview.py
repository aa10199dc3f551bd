"""Previewing a dialogue inside Wagtail's preview panel.

The preview renders the real widget. Its flow is the editor's unsaved one, compiled and parked in
the cache under a random token; an admin-only endpoint runs the same engine over it with an empty
person, keeping the conversation in the cache too, so nothing reaches the database or the reports.
"""

import datetime
import json
import secrets

from django.core.cache import caches
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from . import engine, targeting
from .conf import dynchat_settings
from .conversations import ConversationError, apply_result, dialogue_summary, run_answer, serialise
from .meetings.chat import InvalidChoice, meeting_card, visitor_zone, when
from .models import Conversation, FlowSnapshot, Person
from .page_views import all_facts
from .tag import widget_config
from .visitor_facts import SAMPLE_USER_AGENTS, visitor_facts
from .widget_setup import widget_setup

PREVIEW_SECONDS = 60 * 60

# The sample visitors of the preview modes: the person's fields (None: anonymous), the device and
# the query string of the page they are on. Tokens, conditions and the audience check use them.
SAMPLE_VISITORS = {
    "": {"person": None, "device": "desktop", "query": ""},
    "known": {
        "person": {
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Engines Ltd",
            "job_title": "Founder",
        },
        "device": "desktop",
        "query": "",
    },
    "mobile": {
        "person": None,
        "device": "mobile",
        "query": "utm_source=newsletter&utm_medium=email",
    },
}
SAMPLE_VISITOR_LABELS = [
    ("", _("Anonymous visitor")),
    ("known", _("Known visitor (Ada Lovelace)")),
    ("mobile", _("Phone, from the newsletter")),
]
# Preview modes offer each sample visitor on each of the first few target pages.
MAX_PREVIEW_PAGES = 5


def _target_pages(dialogue):
    targets = [t for t in dialogue.targets.all() if not t.exclude and t.page_id]
    return [target.page for target in targets[:MAX_PREVIEW_PAGES]]


def preview_modes(dialogue):
    """Wagtail preview modes: ``"<visitor>"`` on the first target page, ``"<visitor>@<page id>"``
    on the others."""
    pages = _target_pages(dialogue)
    modes = []
    for key, label in SAMPLE_VISITOR_LABELS:
        if not pages:
            modes.append((key, label))
        for index, page in enumerate(pages):
            mode = key if index == 0 else f"{key}@{page.pk}"
            modes.append(
                (mode, _("%(visitor)s on “%(page)s”") % {"visitor": label, "page": page.title})
            )
    return modes


def _cache():
    return caches[dynchat_settings.CACHE_ALIAS]


def _flow_key(token):
    return f"dynchat:preview:{token}"


def _conversation_key(token):
    return f"dynchat:preview:{token}:conversation"


def sample_visitor(request, dialogue, mode_name):
    """``(person, facts, page)`` of a preview mode: an unsaved person (or None), the facts
    audiences and conditions read, and the page the sample visitor is on (a target page of the
    dialogue, or None)."""
    visitor_key, _at, page_id = mode_name.partition("@")
    sample = SAMPLE_VISITORS.get(visitor_key, SAMPLE_VISITORS[""])
    person = Person(**sample["person"]) if sample["person"] else None
    pages = _target_pages(dialogue)
    page = next((p for p in pages if str(p.pk) == page_id), pages[0] if pages else None)
    page = page.specific if page else None
    url = (page.get_full_url(request) or "") if page else ""
    if url and sample["query"]:
        url = f"{url}?{sample['query']}"
    facts = visitor_facts(
        url=url,
        referrer="",
        user_agent=SAMPLE_USER_AGENTS[sample["device"]],
        accept_language=get_language(),
        visits=1,
        now=timezone.now(),
        time_zone=timezone.get_current_timezone(),
    )
    return person, all_facts(person, facts), page


def preview_config(request, dialogue, mode_name="", sample=None):
    """The widget configuration for previewing ``dialogue`` (saved or not) to an editor, talking
    as the sample visitor of ``mode_name`` (``sample``: its :func:`sample_visitor`, if known)."""
    token = secrets.token_urlsafe(16)
    _person, facts, page = sample or sample_visitor(request, dialogue, mode_name)
    # Editors see the chat as visitors will: branded for the site, speaking the page's language.
    site_id = dialogue.site_id or (targeting.page_info(page).site_id if page else None)
    language = dialogue.locale.language_code if dialogue.locale_id else get_language()
    preview = {
        "dialogue": dialogue.pk,
        "flow": dialogue.compile_flow(),
        "title": dialogue.title,
        "person": SAMPLE_VISITORS.get(mode_name.partition("@")[0], SAMPLE_VISITORS[""])["person"],
        "facts": {**facts, "page.language": language},
        # The site's blocked e-mail domains apply in previews too.
        "site": site_id,
    }
    _cache().set(_flow_key(token), preview, PREVIEW_SECONDS)
    return widget_config(
        reverse("wagtail_dynchat_admin:preview_api", args=[token]),
        page=None,
        candidates=True,
        preview=True,
        csrf=get_token(request),
        bootstrap={
            "dialogue": _summary(preview),
            "conversation": None,
            "setup": widget_setup(site_id, language),
        },
    )


def _summary(preview):
    return dialogue_summary(
        preview["dialogue"], FlowSnapshot(flow=preview["flow"], title=preview["title"])
    )


def _load(token):
    """``(conversation, started)``: the preview's conversation as an unsaved model instance
    (None when the preview expired), and whether the editor started talking to it yet."""
    preview = _cache().get(_flow_key(token))
    if preview is None:
        return None, False
    conversation = Conversation(
        dialogue_id=preview["dialogue"],
        snapshot=FlowSnapshot(flow=preview["flow"], title=preview["title"]),
        public_id="preview",
        context=preview.get("facts", {}),
        site_id=preview.get("site"),
    )
    conversation.preview_person = Person(**preview["person"]) if preview.get("person") else None
    stored = _cache().get(_conversation_key(token))
    for name, value in (stored or {}).items():
        setattr(conversation, name, value)
    return conversation, stored is not None


def _store(token, conversation):
    fields = ("state", "transcript", "awaiting", "status")
    _cache().set(
        _conversation_key(token),
        {name: getattr(conversation, name) for name in fields},
        PREVIEW_SECONDS,
    )


def _gone():
    return JsonResponse(
        {"error": "not_found", "message": "This preview has expired. Refresh the preview."},
        status=404,
    )


def api_root(request, token):
    """The base the widget builds its URLs on; nothing lives here itself."""
    return JsonResponse({"error": "not_found", "message": "Not an endpoint."}, status=404)


@require_GET
def bootstrap(request, token):
    """What the widget asks for to redraw after a conflict: the dialogue and its conversation."""
    conversation, started = _load(token)
    if conversation is None:
        return _gone()
    return JsonResponse(
        {
            "dialogue": dialogue_summary(conversation.dialogue_id, conversation.snapshot),
            "conversation": serialise(conversation) if started else None,
        }
    )


@require_POST
def start(request, token):
    conversation, _started = _load(token)
    if conversation is None:
        return _gone()
    try:
        person = conversation.preview_person
        result = engine.start(
            conversation.snapshot.flow,
            person.as_facts() if person else {},
            facts=conversation.context,
        )
    except engine.FlowError as error:
        return JsonResponse({"error": "invalid", "message": str(error)}, status=400)
    conversation.transcript = []
    apply_result(conversation, result)
    _store(token, conversation)
    return JsonResponse({"conversation": serialise(conversation)}, status=201)


@require_POST
def answer(request, token, conversation_id):
    conversation, started = _load(token)
    if not started:
        return _gone()
    try:
        payload = json.loads(request.body or b"{}")
        step, card, value = payload["step"], payload["card"], payload.get("value")
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"error": "bad_request", "message": "Send the step, card and value as JSON."},
            status=400,
        )
    if meeting_card(conversation, card) is not None:
        value = _sample_booking(value)
        if value is None:
            return JsonResponse(
                {"error": "invalid", "message": "Choose one of the sample times."}, status=400
            )
    try:
        result = run_answer(
            conversation, step=step, card=card, value=value, person=conversation.preview_person
        )
    except ConversationError as error:
        return JsonResponse({"error": error.code, "message": error.message}, status=error.status)
    apply_result(conversation, result)
    _store(token, conversation)
    return JsonResponse(
        {"conversation": serialise(conversation), "items": result.items}, status=200
    )


# Previews book nothing: a meeting card offers sample times on the next weekdays and "books" them
# with a sample agent, so editors see the whole exchange.
SAMPLE_AGENT = _("Sample agent")


@require_GET
def slots(request, token, conversation_id):
    """Sample times for a previewed meeting card: the next three weekdays, 09:00 to 16:00."""
    _conversation, started = _load(token)
    if not started:
        return _gone()
    try:
        zone = visitor_zone(request.GET.get("tz", "UTC"))
    except InvalidChoice as error:
        return JsonResponse({"error": "invalid", "message": str(error)}, status=400)
    day = timezone.now().astimezone(zone).date()
    days = []
    while len(days) < 3:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            times = [
                datetime.datetime.combine(day, datetime.time(hour), zone).isoformat()
                for hour in range(9, 17)
            ]
            days.append({"date": day.isoformat(), "times": times})
    return JsonResponse({"tz": zone.key, "days": days})


def _sample_booking(value):
    if not isinstance(value, dict):
        return None
    try:
        zone = visitor_zone(value.get("tz"))
        start = datetime.datetime.fromisoformat(str(value.get("start") or ""))
    except (InvalidChoice, ValueError):
        return None
    if start.tzinfo is None:
        return None
    return {
        "booked": {
            "meeting": None,
            "agent": str(SAMPLE_AGENT),
            "agent_email": "agent@example.com",
            "starts_at": start.isoformat(),
            "when": when(start, zone),
            "email": "",
        }
    }


@require_POST
def ignore(request, token, conversation_id):
    """Closing the chat or opening a document in a preview records nothing."""
    return HttpResponse(status=204)

"""The visitor API's operations. Thin: validate, identify, call a service, answer."""

from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.decorators import decorate_view

from .. import conversations
from ..consent import consent_needed, record_answer
from ..marketo.identity import note_cookie
from ..page_views import page_view, site_of
from ..privacy import policy
from ..visitors import current_session, ensure_visitor, find_visitor, set_identity_cookies
from ..widget_setup import widget_setup
from .guards import guarded
from .schemas import (
    AnswerIn,
    AnswerOut,
    BootstrapOut,
    ConsentIn,
    ConversationEnvelope,
    ErrorOut,
    EventIn,
    SlotsOut,
    Slug,
    StartIn,
    Url,
)
from .throttles import PerConversationThrottle, PerIPThrottle

router = Router(tags=["visitor"])

ERRORS = dict.fromkeys((400, 403, 404, 409, 413, 429), ErrorOut)
CONVERSATION_ID = r"{conversation_id}"


class BootstrapQuery(Schema):
    page: int | None = Field(None, ge=1, le=2**63 - 1, description="Id of the current page.")
    url: Url = Field("", description="Address of the current page.")
    ref: Url = Field("", description="The page's referrer (document.referrer).")
    dialogue: Slug | None = Field(None, description="Slug of a dialogue opened explicitly.")


@router.get(
    "bootstrap",
    response={200: BootstrapOut, **ERRORS},
    throttle=[PerIPThrottle()],
    summary="Resolve the dialogue for this visitor on this page",
)
@decorate_view(guarded)
def bootstrap(request, response: HttpResponse, query: Query[BootstrapQuery]):
    # Reading never creates a visitor: crawlers and one-page visits leave no rows behind. Before
    # consent the visitor is not even looked up: the answer is what anybody would get.
    asking = consent_needed(request, site_of(request, query.page))
    visitor = None if asking else find_visitor(request)
    session = None if asking else current_session(request)
    if visitor is not None and session:
        set_identity_cookies(request, response, visitor, session)
    # Munchkin's cookie, once per value: later calls of this visitor see the lead it belongs to.
    note_cookie(request, visitor)
    view = page_view(
        request,
        page_id=query.page,
        url=query.url,
        referrer=query.ref,
        visitor=visitor,
        session=session,
    )
    with translation.override(view.language):
        answer = conversations.resolve(visitor, view, slug=query.dialogue)
    if answer["dialogue"] is not None:
        answer = {**answer, "setup": widget_setup(view.site_id, view.language)}
        if asking:
            answer["consent"] = {"text": policy(view.site_id).consent_text}
    return answer


@router.post(
    "consent",
    response={204: None, **ERRORS},
    throttle=[PerIPThrottle()],
    summary="Accept, refuse or withdraw consent to the chat storing anything",
)
@decorate_view(guarded)
def consent(request, response: HttpResponse, payload: ConsentIn):
    record_answer(request, response, payload.accept)
    return Status(204, None)


@router.post(
    "conversations",
    response={200: ConversationEnvelope, 201: ConversationEnvelope, **ERRORS},
    throttle=[PerIPThrottle()],
    summary="Start the conversation of a triggered dialogue",
)
@decorate_view(guarded)
def start(request, response: HttpResponse, payload: StartIn):
    _require_consent(request, payload.page)
    visitor, session = ensure_visitor(request)
    set_identity_cookies(request, response, visitor, session)
    # A first-time visitor had no row at bootstrap: the cookie is noted when it gets one.
    note_cookie(request, visitor)
    view = page_view(
        request,
        page_id=payload.page,
        url=payload.url,
        referrer=payload.ref,
        visitor=visitor,
        session=session,
    )
    with translation.override(view.language):
        conversation, created = conversations.start(
            visitor,
            session,
            dialogue_id=payload.dialogue,
            view=view,
            mode=payload.mode,
        )
    return Status(201 if created else 200, {"conversation": conversations.serialise(conversation)})


@router.post(
    f"conversations/{CONVERSATION_ID}/answers",
    response={200: AnswerOut, **ERRORS},
    throttle=[PerIPThrottle(), PerConversationThrottle()],
    summary="Answer the awaited card",
)
@decorate_view(guarded)
def answer(request, response: HttpResponse, conversation_id: str, payload: AnswerIn):
    visitor, session = _identified(request, response)
    conversation, items = conversations.answer(
        visitor,
        session,
        public_id=conversation_id,
        step=payload.step,
        card=payload.card,
        # A meeting choice reaches the services as a plain dict, like every other value.
        value=payload.value.model_dump() if isinstance(payload.value, Schema) else payload.value,
        mode=payload.mode,
    )
    return {"conversation": conversations.serialise(conversation), "items": items}


class SlotsQuery(Schema):
    tz: str = Field(..., max_length=64, description="The visitor's time zone (IANA name).")


@router.get(
    f"conversations/{CONVERSATION_ID}/slots",
    response={200: SlotsOut, **ERRORS},
    throttle=[PerIPThrottle(), PerConversationThrottle()],
    summary="Free meeting times for the awaited meeting card",
)
@decorate_view(guarded)
def slots(request, response: HttpResponse, conversation_id: str, query: Query[SlotsQuery]):
    _require_consent(request, None)
    return conversations.meeting_offer(
        find_visitor(request), public_id=conversation_id, time_zone=query.tz
    )


@router.post(
    f"conversations/{CONVERSATION_ID}/events",
    response={204: None, **ERRORS},
    throttle=[PerIPThrottle(), PerConversationThrottle()],
    summary="Record a visitor action such as opening a document",
)
@decorate_view(guarded)
def event(request, response: HttpResponse, conversation_id: str, payload: EventIn):
    visitor, session = _identified(request, response)
    conversations.record_event(
        visitor, session, public_id=conversation_id, kind=payload.kind, card=payload.card
    )
    return Status(204, None)


@router.post(
    f"conversations/{CONVERSATION_ID}/close",
    response={204: None, **ERRORS},
    throttle=[PerIPThrottle(), PerConversationThrottle()],
    summary="The visitor closed the chat window",
)
@decorate_view(guarded)
def close(request, response: HttpResponse, conversation_id: str):
    visitor, session = _identified(request, response)
    conversations.close(visitor, session, public_id=conversation_id)
    return Status(204, None)


class ConsentRequired(conversations.ConversationError):
    status = 403
    code = "consent_required"


def _require_consent(request, page_id):
    if consent_needed(request, site_of(request, page_id)):
        raise ConsentRequired(_("Please accept the chat's use of cookies first."))


def _identified(request, response):
    """The visitor of a conversation call, with its visit refreshed.

    A request without a visitor cookie cannot own any conversation; the service answers 404.
    """
    _require_consent(request, None)
    visitor = find_visitor(request)
    if visitor is None:
        return None, ""
    visitor, session = ensure_visitor(request)
    set_identity_cookies(request, response, visitor, session)
    return visitor, session

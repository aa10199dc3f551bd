"""The public visitor API (django-ninja), mounted under ``dynchat/api/`` by ``urls.py``."""

from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import HttpError, Throttled, ValidationError

from ..conversations import ConversationError
from .endpoints import router
from .errors import error_response

api = NinjaAPI(
    title="wagtail-dynchat visitor API",
    version="1",
    description="What the chat widget calls. See docs/api.md.",
    urls_namespace="wagtail_dynchat_api",
    docs_url=None,
    openapi_url="openapi.json",
)
api.add_router("", router)


@api.exception_handler(ConversationError)
def conversation_error(request, exc):
    return error_response(exc.status, exc.code, exc.message)


def _field_name(loc):
    """``("body", "payload", "step")`` → ``"step"``: the name the client sent, not ours."""
    parts = [str(part) for part in loc]
    # Drop the location ("body", "query", "path"), and for bodies the operation's parameter.
    skip = 2 if parts[:1] == ["body"] else 1
    return ".".join(parts[skip:]) or "body"


@api.exception_handler(ValidationError)
def validation_error(request, exc):
    fields = [
        {"field": _field_name(error.get("loc", ())), "message": error.get("msg", "")}
        for error in exc.errors
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return error_response(
        400,
        "invalid",
        _("The request is not valid: %(summary)s.") % {"summary": summary},
        fields=fields,
    )


@api.exception_handler(Throttled)
def throttled(request, exc):
    return error_response(
        429, "rate_limited", _("Too many requests. Please wait a moment and try again.")
    )


@api.exception_handler(HttpError)
def http_error(request, exc):
    # Ninja raises these for bodies it cannot parse (malformed JSON).
    message = _("The request body is not valid JSON.") if exc.status_code == 400 else exc.message
    return error_response(exc.status_code, "bad_request", str(message))

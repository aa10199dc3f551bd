"""Whether the chat may store anything for a visitor yet, and recording the visitor's answer.

A site can ask for consent before any cookie is set or anything is recorded (``ChatSettings``),
or only for visitors whose browser sends Do-Not-Track or Global Privacy Control. Until the visitor
accepts, the API reads nothing about them, sets no cookie and writes no row: it only tells the
widget which dialogue to show and that it must ask first.
"""

from .conf import dynchat_settings
from .privacy import policy
from .visitors import delete_identity_cookies

ACCEPTED = "1"


def browser_objects(request):
    """Whether the browser asks not to be tracked (``DNT: 1`` or ``Sec-GPC: 1``)."""
    return request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"


def consent_needed(request, site_id):
    """Whether the visitor of ``request`` must still be asked before anything is stored."""
    if request.COOKIES.get(dynchat_settings.CONSENT_COOKIE) == ACCEPTED:
        return False
    rules = policy(site_id)
    return rules.consent_required or (rules.honour_dnt_gpc and browser_objects(request))


def may_ask(rules):
    """Whether a site's :class:`~.privacy.ChatPolicy` may have visitors asked for consent (the
    loader then waits for the bootstrap answer before it writes to the browser's storage)."""
    return rules.consent_required or rules.honour_dnt_gpc


def record_answer(request, response, accepted):
    """Keep the visitor's answer in a cookie; withdrawing also forgets the visitor's identity.

    The cookie holds only the answer. A refusal stores nothing at all: the widget asks again on
    a later page, which is the price of keeping nothing.
    """
    common = {"path": "/", "samesite": "Lax", "secure": request.is_secure(), "httponly": True}
    if accepted:
        response.set_cookie(
            dynchat_settings.CONSENT_COOKIE,
            ACCEPTED,
            max_age=dynchat_settings.CONSENT_COOKIE_AGE,
            **common,
        )
    elif dynchat_settings.CONSENT_COOKIE in request.COOKIES:
        response.delete_cookie(dynchat_settings.CONSENT_COOKIE, path="/", samesite="Lax")
        delete_identity_cookies(response)

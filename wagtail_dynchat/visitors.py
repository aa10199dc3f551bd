"""Visitor identity: the first-party cookies, visits, and turning an e-mail into a known person.

The page HTML never carries anything per visitor; identity lives in two cookies set by the API:
a long-lived random visitor key, and a short-lived visit (session) key that expires after a period
without API calls.
"""

import re
import secrets

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from .conf import dynchat_settings
from .models import Conversation, OutboxItem, Person, Visitor

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def is_token(value):
    """Whether ``value`` has the shape of the random keys and ids we issue (see ``new_token``)."""
    return isinstance(value, str) and bool(_TOKEN_RE.fullmatch(value))


def _cookie(request, name):
    value = request.COOKIES.get(name, "")
    return value if is_token(value) else None


def find_visitor(request):
    """The visitor whose cookie the request carries, or None. Never writes."""
    key = _cookie(request, dynchat_settings.VISITOR_COOKIE)
    if not key:
        return None
    # The company too: mapped company fields are read from it in the same request.
    return Visitor.objects.select_related("person__company_record").filter(key=key).first()


def current_session(request):
    """The visit key the request carries, or None when the visit has expired."""
    return _cookie(request, dynchat_settings.SESSION_COOKIE)


def ensure_visitor(request):
    """Return ``(visitor, session)`` for the request, creating the visitor on first contact.

    A request without a live visit cookie starts a new visit, which bumps the visit count.
    """
    visitor = find_visitor(request)
    session = current_session(request)
    if visitor is None:
        person = Person.objects.create()
        visitor = Visitor.objects.create(person=person, session="", visits=0)
    if session is None or session != visitor.session:
        # A visit key we did not issue to this visitor (or none) starts a new visit.
        session = secrets.token_urlsafe(16)
        visitor.session = session
        visitor.visits += 1
        visitor.save(update_fields=["session", "visits", "last_seen_at"])
    return visitor, session


def set_identity_cookies(request, response, visitor, session):
    """Refresh both cookies on an API response (the visit cookie slides with each call)."""
    common = {"path": "/", "httponly": True, "samesite": "Lax", "secure": request.is_secure()}
    response.set_cookie(
        dynchat_settings.VISITOR_COOKIE,
        visitor.key,
        max_age=dynchat_settings.VISITOR_COOKIE_AGE,
        **common,
    )
    response.set_cookie(
        dynchat_settings.SESSION_COOKIE,
        session,
        max_age=dynchat_settings.SESSION_IDLE_SECONDS,
        **common,
    )


def delete_identity_cookies(response):
    """Make the browser forget both identity cookies (a visitor who withdrew consent)."""
    for name in (dynchat_settings.VISITOR_COOKIE, dynchat_settings.SESSION_COOKIE):
        response.delete_cookie(name, path="/", samesite="Lax")


def identify_by_email(visitor, email):
    """Make ``visitor`` belong to the person who owns ``email`` and return that person.

    - The visitor's person is anonymous and nobody owns the e-mail: the person takes it.
    - It is anonymous and a known person owns it: the anonymous person is merged into the known
      one (visitors and conversations move over, blanks are filled) and deleted.
    - It is already known under another e-mail: this browser now belongs to someone else (a
      shared computer, a colleague), so only this visitor and its active conversations move.
    """
    email = email.strip().lower()
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _identify(visitor, email)
        except IntegrityError:
            # Another request gave this e-mail to a new person between our read and write;
            # the second attempt finds that person and merges into it.
            if attempt:
                raise
            visitor.person.refresh_from_db()
    raise AssertionError("unreachable")


def _identify(visitor, email):
    current = visitor.person
    if (current.email or "").lower() == email:
        return current
    # Matched like the unique constraint (on the lowercased address), which serves as its index.
    owner = (
        Person.objects.select_for_update()
        .alias(email_lower=Lower("email"))
        .filter(email_lower=email)
        .first()
    )
    if owner is None:
        if current.email is None:
            current.email = email
            current.save(update_fields=["email", "updated_at"])
            return current
        owner = Person.objects.create(email=email)
    elif current.email is None:
        visitor.person = merge_person(current, owner)
        return owner
    Visitor.objects.filter(pk=visitor.pk).update(person=owner)
    Conversation.objects.filter(visitor=visitor, status=Conversation.STATUS_ACTIVE).update(
        person=owner
    )
    visitor.person = owner
    return owner


def merge_person(anonymous, owner):
    """Merge the anonymous person ``anonymous`` into ``owner`` (a known person); return ``owner``.

    The owner's blanks are filled from the anonymous person (fields, company record, Marketo
    lead); its visitors, conversations and queued Marketo writes move over, so what happened
    before the visitor was known follows the person; then it is deleted. Call it inside a
    transaction, with ``owner`` locked.
    """
    for name, value in anonymous.as_facts().items():
        if value not in (None, "") and owner.get_field(name) in (None, ""):
            owner.set_field(name, value)
    if owner.company_record_id is None:
        owner.company_record_id = anonymous.company_record_id
    if owner.marketo_id is None and anonymous.marketo_id is not None:
        # The lead id is unique: the anonymous row lets go of it before the owner takes it.
        Person.objects.filter(pk=anonymous.pk).update(marketo_id=None)
        owner.marketo_id = anonymous.marketo_id
    owner.save()
    Visitor.objects.filter(person=anonymous).update(person=owner)
    Conversation.objects.filter(person=anonymous).update(person=owner)
    OutboxItem.objects.filter(person=anonymous).update(person=owner)
    anonymous.delete()
    return owner

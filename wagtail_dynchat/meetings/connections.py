"""Agents' calendar connections: connect (OAuth), tokens, failures and disconnect.

The admin views only call these services. A connection is ``usable`` while its status is
"connected"; :func:`mark_failing` flips it to "needs re-auth" once, which takes the agent out of
rotation (routing offers only :func:`bookable_agents`) and e-mails the agent and the sales admins.
A calendar that cannot be read is never treated as free.
"""

import functools
import logging
import secrets
import time
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import dynchat_settings
from ..models import Agent, CalendarConnection
from . import tokens as token_store
from .providers import ProviderError, ReauthRequired, get_provider

logger = logging.getLogger(__name__)

PROVIDERS = (CalendarConnection.GOOGLE, CalendarConnection.MICROSOFT)
SALES_ADMIN_GROUP = "Sales admin"
TAKE_MEETINGS = "wagtail_dynchat.take_meetings"
VIEW_AGENTS = "wagtail_dynchat.view_agent"
# The admins' listing of every agent (wagtail-modeladmin's URL name for Agent).
AGENTS_URL_NAME = "dynchat_agents_modeladmin_index"

SESSION_KEY = "dynchat_calendar_oauth"
# A sign-in that takes longer than this must start again; a few may be pending at once (tabs).
STATE_MAX_AGE = 15 * 60
MAX_PENDING = 4


class ConnectError(Exception):
    """A sign-in that cannot finish; the message is meant for the person signing in."""


# -- providers ---------------------------------------------------------------------------------


def provider_label(provider):
    return str(dict(CalendarConnection.PROVIDERS).get(provider, provider))


def provider_module(provider):
    return get_provider(provider)


def provider_settings(provider):
    return getattr(dynchat_settings, provider.upper())


def configured_providers():
    """The providers whose OAuth app the project has set up (a client id)."""
    return [name for name in PROVIDERS if provider_settings(name).get("CLIENT_ID")]


# -- people ------------------------------------------------------------------------------------


def can_take_meetings(user):
    return bool(user and user.is_active and user.has_perm(TAKE_MEETINGS))


def can_view_agents(user):
    return bool(user and user.is_active and user.has_perm(VIEW_AGENTS))


def default_time_zone(user):
    profile = getattr(user, "wagtail_userprofile", None)
    for name in (getattr(profile, "current_time_zone", ""), settings.TIME_ZONE):
        if name and name in zoneinfo.available_timezones():
            return name
    return "UTC"


def agent_for(user, create=False):
    """The user's Agent (with its connection loaded); None when there is none and ``create``
    is false. Creating one does not check permissions: callers do."""
    if user is None or not user.is_authenticated:
        return None
    agent = Agent.objects.select_related("user", "connection").filter(user=user).first()
    if agent is None and create:
        agent, _created = Agent.objects.get_or_create(
            user=user, defaults={"time_zone": default_time_zone(user)}
        )
    return agent


def connection_of(agent):
    """The agent's connection, or None."""
    try:
        return agent.connection
    except CalendarConnection.DoesNotExist:
        return None


def bookable_agents(queryset=None):
    """Agents who take meetings and whose calendar can be read: the only ones routing offers."""
    queryset = Agent.objects.all() if queryset is None else queryset
    return queryset.filter(active=True, connection__status=CalendarConnection.CONNECTED)


# -- connecting --------------------------------------------------------------------------------


def callback_uri(request, provider):
    """The redirect URI to register with the provider (an admin URL; both providers answer
    with a GET, which carries the SameSite=Lax session cookie the state is kept in)."""
    return request.build_absolute_uri(reverse(f"wagtail_dynchat_calendars:{provider}_callback"))


def _pending(request):
    now = time.time()
    pending = request.session.get(SESSION_KEY) or {}
    return {
        state: entry
        for state, entry in pending.items()
        if isinstance(entry, dict) and now - entry.get("at", 0) <= STATE_MAX_AGE
    }


def connect_url(request, agent, provider):
    """The provider's sign-in URL for ``agent``; the state, the provider's flow (PKCE verifier,
    nonce) and the redirect URI wait in the session, bound to the signed-in user."""
    if provider not in PROVIDERS:
        raise ConnectError(_("Unknown calendar provider."))
    if agent.user_id != request.user.pk:
        raise ConnectError(_("Only the agent can connect their own calendar."))
    if provider not in configured_providers():
        raise ConnectError(
            _("%(provider)s is not set up on this site yet: ask the site's developers.")
            % {"provider": provider_label(provider)}
        )
    try:
        token_store.check_key()
    except ImproperlyConfigured:
        logger.exception("Calendar tokens cannot be encrypted")
        raise ConnectError(
            _(
                "Calendars cannot be connected yet: the site has no valid encryption key for "
                "calendar tokens. Ask the site's developers (see the system checks)."
            )
        ) from None
    state = secrets.token_urlsafe(32)
    redirect_uri = callback_uri(request, provider)
    url, flow = provider_module(provider).authorization_url(redirect_uri, state)
    if isinstance(flow, dict) and flow.get("state"):
        state = flow["state"]
    pending = _pending(request)
    while len(pending) >= MAX_PENDING:
        pending.pop(min(pending, key=lambda key: pending[key]["at"]))
    pending[state] = {
        "provider": provider,
        "flow": flow,
        "redirect_uri": redirect_uri,
        "user": request.user.pk,
        "agent": agent.pk,
        "at": time.time(),
    }
    request.session[SESSION_KEY] = pending
    return url


def _plain(query):
    if hasattr(query, "dict"):  # QueryDict
        return query.dict()
    return dict(query)


def finish_connect(request, provider, query):
    """Exchange the callback's code for tokens and store the agent's connection (replacing the
    one they had). Raises ConnectError with a readable message when the state is missing,
    forged, stale or another user's, when the person declined, or when the provider refuses."""
    query = _plain(query)
    label = provider_label(provider)
    state = query.get("state") or ""
    pending = _pending(request)
    entry = pending.pop(state, None) if state else None
    request.session[SESSION_KEY] = pending
    if entry is None or entry.get("provider") != provider or entry.get("user") != request.user.pk:
        raise ConnectError(
            _(
                "This sign-in with %(provider)s cannot be accepted: it was not started from "
                "your “My calendar” page, was already used, or took longer than 15 minutes. "
                "Please start again."
            )
            % {"provider": label}
        )
    if query.get("error"):
        if query["error"] == "access_denied":
            message = _("You did not allow access to your calendar at %(provider)s.")
        else:
            message = _("%(provider)s did not connect the calendar: %(error)s")
        raise ConnectError(
            message % {"provider": label, "error": query.get("error_description") or query["error"]}
        )
    agent = Agent.objects.filter(pk=entry["agent"], user=request.user).first()
    if agent is None:
        raise ConnectError(_("Your calendar settings were deleted meanwhile. Please start again."))
    try:
        bundle = provider_module(provider).finish(entry["redirect_uri"], entry["flow"], query)
    except ProviderError as error:
        logger.warning("Finishing the %s sign-in of %s failed: %s", provider, agent, error)
        raise ConnectError(
            _("%(provider)s did not connect the calendar: %(error)s")
            % {"provider": label, "error": error}
        ) from error
    blob = token_store.encrypt(bundle)
    with transaction.atomic():
        # One calendar per agent: a new sign-in (same or other provider) replaces the old one.
        # The old grant is not revoked: with the same account that would revoke the new one.
        CalendarConnection.objects.filter(agent=agent).delete()
        connection = CalendarConnection.objects.create(
            agent=agent,
            provider=provider,
            account=bundle.account or "",
            encrypted_tokens=blob,
            status=CalendarConnection.CONNECTED,
            status_message="",
            checked_at=timezone.now(),
        )
    return connection


# -- tokens ------------------------------------------------------------------------------------


def _fingerprint(bundle):
    # The expiry alone is not worth a write: msal recomputes it on every cache hit.
    return (bundle.access_token, bundle.refresh_token, bundle.cache, bundle.account)


def save_tokens(connection, bundle, previous=None):
    """Store a renewed bundle (provider calls update it in place). With ``previous`` (a copy
    taken before the call, ``dataclasses.replace(bundle)``) nothing is written when the tokens
    did not change."""
    if previous is not None and _fingerprint(previous) == _fingerprint(bundle):
        return
    connection.encrypted_tokens = token_store.encrypt(bundle)
    connection.checked_at = timezone.now()
    CalendarConnection.objects.filter(pk=connection.pk).update(
        encrypted_tokens=connection.encrypted_tokens, checked_at=connection.checked_at
    )


def tokens_for(connection):
    """Usable tokens for the connection, refreshed (and saved) when expired.

    Raises ReauthRequired when the calendar needs the agent to sign in again (after marking
    the connection, see :func:`mark_failing`); Throttled and Transient pass through for the
    caller to retry. Provider calls may renew the bundle in place: pass it to
    :func:`save_tokens` afterwards (it writes only when something changed)."""
    if not connection.usable:
        raise ReauthRequired(
            connection.status_message or _("The calendar needs to be connected again."),
            code="needs_reauth",
        )
    try:
        bundle = token_store.decrypt(connection.encrypted_tokens)
    except token_store.InvalidToken:
        message = _(
            "The stored sign-in cannot be decrypted with the site's current encryption keys."
        )
        mark_failing(connection, message)
        raise ReauthRequired(message, code="undecryptable") from None
    if not bundle.expired():
        return bundle
    before = _fingerprint(bundle)
    try:
        bundle = provider_module(connection.provider).refresh(bundle)
    except ReauthRequired as error:
        mark_failing(connection, str(error) or _("The calendar refused the saved sign-in."))
        raise
    if _fingerprint(bundle) != before:
        save_tokens(connection, bundle)
    return bundle


# -- failures ----------------------------------------------------------------------------------


def mark_failing(connection, message):
    """Mark the connection as needing a new sign-in, which takes the agent out of rotation.

    The agent and the sales admins (and superusers) get one e-mail per failure: only the call
    that moves the connection from "connected" to "needs re-auth" sends it, however many
    workers hit the broken calendar. Returns whether this call did."""
    message = str(message or _("The calendar refused the saved sign-in."))[:2000]
    changed = CalendarConnection.objects.filter(
        pk=connection.pk, status=CalendarConnection.CONNECTED
    ).update(status=CalendarConnection.NEEDS_REAUTH, status_message=message)
    if not changed:
        connection.refresh_from_db(fields=["status", "status_message"])
        return False
    connection.status = CalendarConnection.NEEDS_REAUTH
    connection.status_message = message
    logger.warning("Calendar of %s needs a new sign-in: %s", connection.agent, message)
    transaction.on_commit(functools.partial(_notify_failing, connection.pk), robust=True)
    return True


def admin_emails():
    """Addresses of active sales admins and superusers."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    users = users.filter(Q(is_superuser=True) | Q(groups__name=SALES_ADMIN_GROUP))
    return sorted(set(users.values_list("email", flat=True)))


def _absolute(url_name):
    base = getattr(settings, "WAGTAILADMIN_BASE_URL", "") or ""
    try:
        return base.rstrip("/") + reverse(url_name)
    except NoReverseMatch:
        return ""


def _notify_failing(pk):
    connection = CalendarConnection.objects.select_related("agent__user").filter(pk=pk).first()
    if connection is None or connection.usable:
        return
    agent = connection.agent
    admins = admin_emails()
    agent_email = agent.user.email
    if agent_email:
        to, cc = [agent_email], [email for email in admins if email != agent_email]
    else:
        to, cc = admins, []
    if not to:
        logger.warning("Nobody to tell that %s's calendar needs a new sign-in", agent)
        return
    context = {
        "agent": agent.name,
        "provider": provider_label(connection.provider),
        "account": connection.account,
        "problem": connection.status_message,
    }
    site = getattr(settings, "WAGTAIL_SITE_NAME", "")
    subject = _("%(agent)s's calendar needs a new sign-in: no meetings until then") % context
    if site:
        subject = f"[{site}] {subject}"
    lines = [
        _(
            "The %(provider)s calendar %(account)s of %(agent)s can no longer be read, so "
            "%(agent)s is out of every meeting queue until the calendar is connected again."
        )
        % context,
        "",
        _("The problem: %(problem)s") % context,
        "",
    ]
    mine = _absolute("wagtail_dynchat_calendars:mine")
    if mine:
        lines.append(
            _("%(agent)s: sign in again from “My calendar”: %(url)s") % {**context, "url": mine}
        )
    listing = _absolute(AGENTS_URL_NAME)
    if listing and cc:
        lines.append(_("Every agent's calendar: %(url)s") % {"url": listing})
    try:
        EmailMessage(subject, "\n".join(lines), to=to, cc=cc).send()
    except Exception:
        logger.exception("Could not e-mail that %s's calendar needs a new sign-in", agent)


# -- disconnecting -----------------------------------------------------------------------------


def _revoke(provider, bundle):
    revoke = getattr(provider_module(provider), "revoke", None)
    if callable(revoke):
        revoke(bundle)


def disconnect(connection):
    """Revoke the grant at the provider when it offers that (best effort: a failure is only
    logged) and delete the connection."""
    try:
        bundle = token_store.decrypt(connection.encrypted_tokens)
    except (token_store.InvalidToken, ImproperlyConfigured):
        bundle = None
    if bundle is not None:
        try:
            _revoke(connection.provider, bundle)
        except Exception:
            logger.warning(
                "Could not revoke %s's %s calendar grant",
                connection.agent,
                connection.provider,
                exc_info=True,
            )
    connection.delete()

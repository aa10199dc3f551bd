"""Checks every visitor API request passes before its body is even parsed."""

from functools import wraps
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .. import targeting
from ..conf import dynchat_settings
from ..privacy import host_allowed, policy
from .errors import error_response


def _origin_allowed(request, origin):
    if origin in dynchat_settings.ALLOWED_ORIGINS:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:  # "http://[" and other unparsable addresses
        return False
    # Same host as the request (scheme differences behind TLS-terminating proxies are fine).
    return bool(parts.netloc) and parts.netloc == request.get_host()


def _foreign_host(request, origin):
    """The first host of the call (its own, its Origin, its Referer) the site's allowed domains
    do not list, or None. A scraped copy of a page calls from its own origin and is refused."""
    allowed = policy(targeting.site_id_for_request(request)).allowed_domains
    if not allowed:
        return None
    hosts = [request.get_host()]
    for address in (origin, request.headers.get("Referer")):
        try:
            hosts.append(urlsplit(address or "").hostname)
        except ValueError:
            hosts.append(address)
    return next((host for host in hosts if host and not host_allowed(host, allowed)), None)


def guarded(run):
    """Wrap an operation: switch, origin, allowed domains, content type and body size, answering
    4xx JSON.

    Browsers send ``Origin`` with every POST, so a foreign page cannot post on a visitor's
    behalf; requiring JSON forces a CORS preflight for cross-site scripts as well.
    """

    @wraps(run)
    def wrapper(request, *args, **kwargs):
        if not dynchat_settings.ENABLED:
            return error_response(404, "not_found", _("The chat is switched off."))
        origin = request.headers.get("Origin")
        if origin and not _origin_allowed(request, origin):
            return error_response(
                403,
                "forbidden_origin",
                _("Requests from %(origin)s are not allowed.") % {"origin": origin[:200]},
            )
        foreign = _foreign_host(request, origin)
        if foreign:
            return error_response(
                403,
                "forbidden_domain",
                _("The chat is not available on %(host)s.") % {"host": foreign[:200]},
            )
        if request.method == "POST":
            limit = dynchat_settings.MAX_BODY_BYTES
            try:
                declared = int(request.headers.get("Content-Length") or 0)
            except ValueError:
                declared = -1
            if declared < 0:
                # Django itself would fail reading the body with this header: refuse it first.
                return error_response(
                    400, "bad_request", _("The Content-Length header is not a valid length.")
                )
            if declared > limit or len(request.body) > limit:
                return error_response(
                    413,
                    "too_large",
                    _("The request is too large (the limit is %(limit)d bytes).")
                    % {"limit": limit},
                )
            content_type = request.content_type or ""
            if request.body and content_type != "application/json":
                return error_response(
                    400, "bad_request", _("Send JSON with the Content-Type application/json.")
                )
        return run(request, *args, **kwargs)

    return wrapper

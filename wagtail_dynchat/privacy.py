"""A site's privacy and security rules for the chat (:class:`ChatPolicy`), and validation of the
editor's lists of hosts and e-mail domains.

The policy is cached with the targeting entries, which saving ChatSettings invalidates, so the tag
and the API read it without a query when the cache is warm.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import targeting

MAX_BLOCKED_EMAIL_DOMAINS = 50

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@dataclass(frozen=True)
class ChatPolicy:
    """What a site's ChatSettings say about consent, privacy and where the chat may run."""

    consent_required: bool = False
    honour_dnt_gpc: bool = False
    consent_text: str = ""
    privacy_url: str = ""
    allowed_domains: tuple[str, ...] = ()
    blocked_email_domains: tuple[str, ...] = ()
    blocked_email_message: str = ""


def policy(site_id):
    """The :class:`ChatPolicy` of a site (cached); the defaults when the site has no ChatSettings
    row or ``site_id`` is None. Reading never creates the row."""
    if site_id is None:
        return ChatPolicy()

    def compute():
        from .models import ChatSettings

        # filter().first(): BaseSiteSetting.for_site would create the row.
        row = ChatSettings.objects.filter(site_id=site_id).first()
        if row is None:
            return ChatPolicy()
        return ChatPolicy(
            consent_required=row.consent_required,
            honour_dnt_gpc=row.honour_dnt_gpc,
            consent_text=row.consent_text,
            privacy_url=row.privacy_url,
            allowed_domains=tuple(lines(row.allowed_domains)),
            blocked_email_domains=tuple(lines(row.blocked_email_domains)),
            blocked_email_message=row.blocked_email_message,
        )

    return targeting.cached(f"policy:{site_id}", compute)


def lines(text):
    """The non-blank lines of ``text``, stripped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _bare_host(host):
    """A request's host without port, lowercase, without a trailing dot; IPv6 without brackets."""
    host = (host or "").strip().lower()
    if host.startswith("["):
        # "[::1]:8000" (a Host header) → "::1"
        end = host.find("]")
        return host[1:end] if end != -1 else host[1:]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    # More than one colon: a bare IPv6 address (urlsplit().hostname gives these), kept whole.
    return host.rstrip(".")


def host_allowed(host, allowed_domains):
    """Whether the chat may run on ``host`` (a Host header or a hostname).

    An empty ``allowed_domains`` allows every host. An entry matches the same host, and
    ``*.example.com`` matches every subdomain of example.com but not example.com itself. The port
    is ignored and the comparison is case-insensitive.
    """
    if not allowed_domains:
        return True
    host = _bare_host(host)
    if not host:
        return False
    for entry in allowed_domains:
        entry = entry.strip().lower()
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


def _hostname(value):
    """``value`` as an ASCII (punycode) lowercase hostname, or None when it is not one."""
    value = value.rstrip(".")
    try:
        # Internationalised names are stored as browsers send them in the Host header.
        value = value.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = value.split(".")
    if len(value) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return value


_NOT_A_HOST = gettext_lazy(
    "Line %(number)d (“%(line)s”) is not a valid host name. Enter one per line, such as "
    "example.com or *.example.com."
)
_HAS_PORT = gettext_lazy(
    "Line %(number)d (“%(line)s”): leave out the port; the chat is allowed on every port of an "
    "allowed host."
)
_HAS_PATH = gettext_lazy(
    "Line %(number)d (“%(line)s”): enter only the host name, such as example.com, without a path."
)
_MISPLACED_WILDCARD = gettext_lazy(
    "Line %(number)d (“%(line)s”): a wildcard is only allowed at the start, as in *.example.com."
)


def _allowed_host(line):
    """``(host, None)`` for a line of allowed domains, or ``(None, message)`` saying what is
    wrong with it (a message with ``number`` and ``line`` placeholders)."""
    value = re.sub(r"^https?://", "", line, flags=re.IGNORECASE)
    value = value.removesuffix("/")
    wildcard = value.startswith("*.")
    name = value.removeprefix("*.")
    if "[" in name or name.count(":") > 1:
        # An IPv6 address: browsers reach a site by name, and names are what is compared.
        return None, _NOT_A_HOST
    if re.fullmatch(r"[^/]+:\d*", name):
        return None, _HAS_PORT
    if any(char in name for char in "/?#") or "://" in value:
        return None, _HAS_PATH
    if "*" in name:
        return None, _MISPLACED_WILDCARD
    host = _hostname(name)
    if host is None:
        return None, _NOT_A_HOST
    return (f"*.{host}" if wildcard else host), None


def parse_allowed_domains(text):
    """The allowed hosts in ``text`` (one a line), lowercase and without duplicates.

    A line is a hostname (``example.com``) or a wildcard for its subdomains (``*.example.com``).
    A pasted address is forgiven its ``http(s)://`` and a trailing ``/``; a port, a path or
    anything else that is not a hostname raises a
    :class:`~django.core.exceptions.ValidationError` naming each such line.
    """
    result, errors = [], []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        host, problem = _allowed_host(line)
        if problem is not None:
            errors.append(str(problem) % {"number": number, "line": line})
        elif host not in result:
            result.append(host)
    if errors:
        raise ValidationError(errors, code="invalid_domain")
    return result


def parse_blocked_email_domains(text):
    """The blocked e-mail domains in ``text`` (one a line), lowercase, without duplicates and
    without a leading ``@``; at most :data:`MAX_BLOCKED_EMAIL_DOMAINS`.

    Raises :class:`~django.core.exceptions.ValidationError` naming each invalid line, or saying
    how many domains were given when there are too many.
    """
    result, errors = [], []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        domain = _hostname(line.removeprefix("@"))
        if domain is None or "." not in domain:
            errors.append(
                _(
                    "Line %(number)d (“%(line)s”) is not a valid e-mail domain. Enter one per "
                    "line, such as example.com."
                )
                % {"number": number, "line": line}
            )
        elif domain not in result:
            result.append(domain)
    if errors:
        raise ValidationError(errors, code="invalid_domain")
    if len(result) > MAX_BLOCKED_EMAIL_DOMAINS:
        raise ValidationError(
            ngettext(
                "Enter at most %(maximum)d domains (%(count)d was given).",
                "Enter at most %(maximum)d domains (%(count)d were given).",
                len(result),
            )
            % {"maximum": MAX_BLOCKED_EMAIL_DOMAINS, "count": len(result)},
            code="too_many_domains",
        )
    return result


_ABSOLUTE_URL = URLValidator(schemes=["http", "https"])


def validate_privacy_url(value):
    """``value`` (stripped) if it is an absolute http(s) URL or a path on the site starting with
    ``/``; raises :class:`~django.core.exceptions.ValidationError` otherwise. "" is allowed."""
    value = (value or "").strip()
    if not value:
        return ""
    message = _(
        "Enter a full address starting with https:// or http://, or a path on this site "
        "starting with /, such as /privacy/."
    )
    if value.startswith("/"):
        parts = urlsplit(value)
        # "//host/path" is an address on another site, not a path on this one.
        if value.startswith("//") or "\\" in value or parts.scheme or parts.netloc:
            raise ValidationError(message, code="invalid_privacy_url")
        if any(char.isspace() or ord(char) < 32 for char in value):
            raise ValidationError(message, code="invalid_privacy_url")
        return value
    try:
        _ABSOLUTE_URL(value)
    except ValidationError:
        raise ValidationError(message, code="invalid_privacy_url") from None
    return value

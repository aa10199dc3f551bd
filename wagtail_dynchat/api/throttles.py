"""Rate limits of the visitor API, shared by every process through Django's cache.

Fixed windows with an atomic increment: ``cache.add`` then ``cache.incr`` are single commands on
Redis and Memcached, so concurrent workers never undercount the way a read-modify-write list of
timestamps would.
"""

import hashlib
import time

from django.core.cache import caches
from ninja.throttling import BaseThrottle

from ..conf import dynchat_settings
from ..visitors import is_token

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate):
    """``"120/m"`` → ``(120, 60)``."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1]]


class WindowThrottle(BaseThrottle):
    """Allows ``count`` requests per ``period`` seconds for each identity."""

    scope = None
    setting = None

    def __init__(self):
        self._wait = None

    def get_identity(self, request):
        raise NotImplementedError

    def allow_request(self, request):
        identity = self.get_identity(request)
        if identity is None:
            return True
        count, period = parse_rate(getattr(dynchat_settings, self.setting))
        now = time.time()
        window = int(now // period)
        # Hashed: identities come from headers (X-Forwarded-For) of any length and content, and
        # Memcached refuses keys over 250 characters or with spaces and control characters.
        digest = hashlib.blake2b(str(identity).encode(errors="replace"), digest_size=16)
        key = f"dynchat:rl:{self.scope}:{digest.hexdigest()}:{window}"
        cache = caches[dynchat_settings.CACHE_ALIAS]
        cache.add(key, 0, period + 1)
        try:
            hits = cache.incr(key)
        except ValueError:
            # The window expired between add and incr; start it again.
            cache.add(key, 1, period + 1)
            hits = 1
        if hits > count:
            self._wait = (window + 1) * period - now
            return False
        return True

    def wait(self):
        return self._wait


def client_address(request):
    """The visitor's IP address, trusting ``X-Forwarded-For`` only as far as NUM_PROXIES says."""
    proxies = dynchat_settings.NUM_PROXIES
    forwarded = request.headers.get("X-Forwarded-For")
    if proxies and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR")


class PerIPThrottle(WindowThrottle):
    scope = "ip"
    setting = "RATE_LIMIT_IP"

    def get_identity(self, request):
        return client_address(request)


class PerConversationThrottle(WindowThrottle):
    scope = "conversation"
    setting = "RATE_LIMIT_CONVERSATION"

    def get_identity(self, request):
        match = getattr(request, "resolver_match", None)
        conversation_id = match.kwargs.get("conversation_id") if match else None
        # Ids we never issue can't name a conversation (they get 404) and must not become cache
        # keys (any length, any character); the per-IP limit still counts them.
        return conversation_id if is_token(conversation_id) else None

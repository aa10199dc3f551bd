"""Errors of the Marketo client, one class per way a caller must react.

- :class:`MarketoError` (base): a permanent error (603, 605, 609, 610, 612, 7xx, 1xxx, HTTP 4xx):
  the request is wrong or not allowed; retrying the same request will not help. Fail loudly.
- :class:`AuthError`: the Identity service refused the client id/secret (HTTP 401), or a fresh
  token was refused again (601/602 twice for one request). Needs an administrator.
- :class:`QuotaExceeded`: 607 (daily call quota) or 1029 (bulk export quota / job queue full).
  Not retried in-process: retry after the daily reset (00:00 US Central) or minutes later.
- :class:`RateLimited`: our own shared rate limiter/concurrency cap gave no slot in time.
- :class:`Transient`: retries of a transient failure (606, 615, 604, 608, 611, 502, HTTP 5xx,
  timeouts, connection resets) were exhausted; a task may retry later.
"""

from __future__ import annotations


class MarketoError(Exception):
    """A Marketo API error with its documented ``code`` (a string: "603", "1003", "HTTP 413")."""

    def __init__(self, code, message=""):
        self.code = str(code)
        self.message = str(message or "")
        super().__init__(f"Marketo error {self.code}: {self.message}" if message else self.code)


class AuthError(MarketoError):
    pass


class QuotaExceeded(MarketoError):
    pass


class RateLimited(MarketoError):
    pass


class Transient(MarketoError):
    pass

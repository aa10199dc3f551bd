"""Marketo Engage integration: the REST client, its shared rate limiter and its errors."""

from .client import MarketoClient, Reason, RecordResult
from .errors import AuthError, MarketoError, QuotaExceeded, RateLimited, Transient

__all__ = [
    "AuthError",
    "MarketoClient",
    "MarketoError",
    "QuotaExceeded",
    "RateLimited",
    "Reason",
    "RecordResult",
    "Transient",
]

"""A strict Content Security Policy for the browser tests (never used by the example site itself).

``StrictCSPMiddleware`` gives every request a fresh ``request.csp_nonce`` (the example site's
``base.html`` passes it to ``{% dynchat nonce=… %}``) and allows scripts only through that nonce
and what the nonce'd scripts load ('strict-dynamic'). ``SelfOnlyCSPMiddleware`` allows scripts
from the site's own origin only, without a nonce. Neither ever allows 'unsafe-inline' or
'unsafe-eval', nor inline styles.
"""

import secrets

COMMON = (
    "default-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


class StrictCSPMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def script_src(self, request):
        request.csp_nonce = secrets.token_urlsafe(18)
        return f"script-src 'self' 'nonce-{request.csp_nonce}' 'strict-dynamic'"

    def __call__(self, request):
        script_src = self.script_src(request)
        response = self.get_response(request)
        response["Content-Security-Policy"] = "; ".join((script_src, *COMMON))
        return response


class SelfOnlyCSPMiddleware(StrictCSPMiddleware):
    def script_src(self, request):
        return "script-src 'self'"

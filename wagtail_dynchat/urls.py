"""Public URLs; include them with ``path("dynchat/", include("wagtail_dynchat.urls"))``."""

from django.urls import URLPattern, include, path, re_path

from .api import api
from .api.errors import json_method_errors, unknown_path


def _api_urls():
    # Ninja answers a wrong method with plain text; every operation answers it as JSON instead.
    patterns, api_app_name, api_namespace = api.urls
    wrapped = [
        URLPattern(p.pattern, json_method_errors(p.callback), p.default_args, p.name)
        for p in patterns
    ]
    return include((wrapped, api_app_name), namespace=api_namespace)


urlpatterns = [
    # The API root only exists to be reversed; answer it, and every unknown address below it,
    # with JSON rather than the site's HTML 404 (or the redirect to it APPEND_SLASH would make).
    path("api/", unknown_path),
    path("api/", _api_urls()),
    re_path(r"^api/", unknown_path),
]

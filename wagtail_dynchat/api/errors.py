"""One error shape for every refusal of the visitor API: ``{"error", "message"}``."""

from functools import wraps

from django.http import JsonResponse
from django.utils.translation import gettext as _


def error_response(status, code, message, **extra):
    """A refusal: ``{"error": code, "message": sentence, ...extra}`` with a 4xx status."""
    return JsonResponse({"error": code, "message": message, **extra}, status=status)


def unknown_path(request, *args, **kwargs):
    """Any address under the API that names no operation (Django would answer an HTML page)."""
    return error_response(404, "not_found", _("There is no such address in the chat API."))


def json_method_errors(view):
    """Turn the plain-text ``405`` Ninja answers to a wrong method into the API's JSON shape."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code != 405:
            return response
        refusal = error_response(
            405,
            "method_not_allowed",
            _("This address does not accept %(method)s requests.")
            % {"method": request.method[:20]},
        )
        refusal["Allow"] = response["Allow"]
        return refusal

    return wrapper

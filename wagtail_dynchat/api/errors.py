"""One error shape for every refusal of the visitor API: ``{"error", "message"}``."""

from django.http import JsonResponse


class ApiError(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status, code, message, **extra):
    return JsonResponse({"error": code, "message": message, **extra}, status=status)

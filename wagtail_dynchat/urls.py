"""Public URLs; include them with ``path("dynchat/", include("wagtail_dynchat.urls"))``."""

from django.urls import path

from .api import api

urlpatterns = [
    path("api/", api.urls),
]

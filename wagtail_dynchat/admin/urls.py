from django.urls import path

from .. import preview
from .which import WhichDialogueView

app_name = "wagtail_dynchat_admin"

urlpatterns = [
    path("which/", WhichDialogueView.as_view(), name="which"),
    path("preview/<str:token>/", preview.api_root, name="preview_api"),
    path("preview/<str:token>/bootstrap", preview.bootstrap, name="preview_bootstrap"),
    path("preview/<str:token>/conversations", preview.start, name="preview_start"),
    path(
        "preview/<str:token>/conversations/<str:conversation_id>/answers",
        preview.answer,
        name="preview_answer",
    ),
    path(
        "preview/<str:token>/conversations/<str:conversation_id>/slots",
        preview.slots,
        name="preview_slots",
    ),
    path(
        "preview/<str:token>/conversations/<str:conversation_id>/events",
        preview.ignore,
        name="preview_event",
    ),
    path(
        "preview/<str:token>/conversations/<str:conversation_id>/close",
        preview.ignore,
        name="preview_close",
    ),
]

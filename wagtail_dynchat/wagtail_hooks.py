"""Admin UI registration: the Dynamic Chat menu, the dialogue snippet and admin-only URLs."""

from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet

from .admin import urls as admin_urls
from .admin.conversations import ConversationPermissionPolicy, ConversationViewSet
from .admin.dialogues import MENU_HOOK, DialogueViewSet
from .models import Conversation

# Policies must be registered before anything asks for one (Wagtail 8 creates fallbacks lazily).
register_permission_policy(Conversation, ConversationPermissionPolicy(Conversation))

# A module-level call, so the snippet is known to code that runs before the admin URLconf is
# built (post_migrate's publish/lock permissions, management commands, Celery workers).
register_snippet(DialogueViewSet)


class DynchatViewSetGroup(ViewSetGroup):
    menu_label = _("Dynamic Chat")
    menu_icon = "comment"
    menu_order = 250
    submenu_hook = MENU_HOOK
    items = (ConversationViewSet,)


@hooks.register("register_admin_viewset")
def register_viewsets():
    return DynchatViewSetGroup()


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [path("dynchat/", include(admin_urls))]

"""Admin UI registration: the Dynamic Chat menu, the dialogue snippet and admin-only URLs."""

from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.permissions import policy_registry, register_permission_policy
from wagtail.snippets.models import register_snippet

from .admin import urls as admin_urls
from .admin.conversations import ConversationPermissionPolicy, ConversationViewSet
from .admin.dialogues import MENU_HOOK, DialogueViewSet
from .admin.people import PersonPermissionPolicy, PersonViewSet
from .models import Conversation, Dialogue, Person

# Policies must be registered before anything asks for one (Wagtail 8 creates fallbacks lazily).
register_permission_policy(Conversation, ConversationPermissionPolicy(Conversation))
register_permission_policy(Person, PersonPermissionPolicy(Person))

# A module-level call, so the snippet is known to code that runs before the admin URLconf is
# built (post_migrate's publish/lock permissions, management commands, Celery workers).
register_snippet(DialogueViewSet)


class DynchatViewSetGroup(ViewSetGroup):
    menu_label = _("Dynamic Chat")
    menu_icon = "comment"
    menu_order = 250
    submenu_hook = MENU_HOOK
    items = (ConversationViewSet, PersonViewSet)


@hooks.register("register_admin_viewset")
def register_viewsets():
    return DynchatViewSetGroup()


class WhichDialogueMenuItem(MenuItem):
    def is_shown(self, request):
        policy = policy_registry.get_by_type(Dialogue)
        return policy.user_has_any_permission(request.user, ["add", "change", "publish"])


@hooks.register(MENU_HOOK)
def register_which_dialogue_menu_item():
    return WhichDialogueMenuItem(
        _("Which dialogue shows?"),
        reverse("wagtail_dynchat_admin:which"),
        name="dynchat-which",
        icon_name="search",
        order=300,
    )


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [path("dynchat/", include(admin_urls))]


# Sales: meetings, queues, routing rules, accounts and every agent's calendar in one menu
# (wagtail-modeladmin, admin/sales.py), and each agent's own "My calendar" page with the OAuth
# callbacks (admin/calendars.py).
def _register_sales():
    from .admin import calendars
    from .admin.sales import register_sales_admin

    calendars.register(listing=False)
    register_sales_admin()


_register_sales()


# Marketo: the sync page (outbox, API usage, initial sync), and the outbox page's old address.
def _register_marketo_outbox():
    from .admin import marketo_sync

    @hooks.register("register_admin_urls")
    def register_outbox_urls():
        return [
            path(
                "dynchat/marketo/outbox/",
                include((marketo_sync.get_legacy_urls(), marketo_sync.LEGACY_NAMESPACE)),
            ),
            path(
                "dynchat/marketo/",
                include((marketo_sync.get_urls(), marketo_sync.NAMESPACE)),
            ),
        ]

    hooks.register(MENU_HOOK, marketo_sync.menu_item)


_register_marketo_outbox()


# Marketo field mapping: the admin page, and the mapped fields as person fields and attributes.
def _register_marketo_fields():
    from .admin import marketo_fields
    from .marketo import fields_registry

    @hooks.register("register_admin_urls")
    def register_marketo_field_urls():
        return [
            path(
                "dynchat/marketo/fields/",
                include((marketo_fields.get_urls(), marketo_fields.NAMESPACE)),
            )
        ]

    hooks.register(MENU_HOOK, marketo_fields.menu_item)
    hooks.register("register_dynchat_person_fields", fields_registry.person_fields)
    hooks.register("register_dynchat_attributes", fields_registry.company_attributes)


_register_marketo_fields()


@hooks.register("register_permissions")
def register_reports_permission():
    """The reports permission in the group editor, where admins grant it."""
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="wagtail_dynchat", codename="view_reports"
    )


# Chat reports in Wagtail's Reports menu: per dialogue, day, page, goal and agent.
def _register_report_views():
    from .admin import report_views

    @hooks.register("register_admin_urls")
    def register_report_view_urls():
        return [
            path(
                "dynchat/reports/list/",
                include((report_views.get_urls(), report_views.NAMESPACE)),
            )
        ]

    for menu_item in report_views.menu_item_hooks():
        hooks.register("register_reports_menu_item", menu_item)


_register_report_views()


# The chat dashboard (in the Dynamic Chat menu), with its panel and summary item on the home page.
def _register_dashboard():
    from .admin import report_dashboard, report_home

    @hooks.register("register_admin_urls")
    def register_dashboard_urls():
        return [
            path(
                "dynchat/reports/",
                include((report_dashboard.get_urls(), report_dashboard.NAMESPACE)),
            )
        ]

    hooks.register(MENU_HOOK, report_dashboard.menu_item)
    hooks.register("construct_homepage_panels", report_home.add_home_panel)
    hooks.register("construct_homepage_summary_items", report_home.add_summary_item)


_register_dashboard()


# Privacy requests (export or erase an e-mail address) in the Dynamic Chat menu.
def _register_privacy_requests():
    from .admin import privacy_requests

    @hooks.register("register_admin_urls")
    def register_privacy_request_urls():
        return [
            path(
                "dynchat/privacy/",
                include((privacy_requests.get_urls(), privacy_requests.NAMESPACE)),
            )
        ]

    hooks.register(MENU_HOOK, privacy_requests.menu_item)
    hooks.register("register_log_actions", privacy_requests.register_log_actions)


_register_privacy_requests()


# A dialogue's report (its funnel on its flow), and "Report" in the dialogue listing's menus.
def _register_dialogue_report():
    from .admin import dialogue_report

    @hooks.register("register_admin_urls")
    def register_dialogue_report_urls():
        return [
            path(
                "dynchat/reports/dialogues/",
                include((dialogue_report.get_urls(), dialogue_report.NAMESPACE)),
            )
        ]

    hooks.register("register_snippet_listing_buttons", dialogue_report.listing_buttons)


_register_dialogue_report()

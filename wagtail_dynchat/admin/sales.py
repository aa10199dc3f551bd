"""The "Sales" menu (wagtail-modeladmin): meetings, queues, routing rules, accounts and agents.

Seen by users with permissions on those models, the "Sales admin" group by default; the
"Calendar agent" group has none of them, so its users see neither the menu nor the views.
"""

from django.utils.translation import gettext_lazy as _
from wagtail_modeladmin.options import ModelAdminGroup, modeladmin_register

from .calendars import AgentAdmin
from .meetings import MeetingAdmin
from .routing import AccountAdmin, QueueAdmin, RoutingRuleAdmin


class SalesAdminGroup(ModelAdminGroup):
    menu_label = _("Sales")
    menu_icon = "calendar-check"
    menu_order = 260
    items = (MeetingAdmin, QueueAdmin, RoutingRuleAdmin, AccountAdmin, AgentAdmin)


def register_sales_admin():
    """Called once from wagtail_hooks: adds the menu, its URLs and its permissions."""
    modeladmin_register(SalesAdminGroup)

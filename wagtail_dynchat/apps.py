from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailDynchatConfig(AppConfig):
    name = "wagtail_dynchat"
    label = "wagtail_dynchat"
    verbose_name = _("Dynamic Chat")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, receivers  # noqa: F401  (registers checks and signal receivers)

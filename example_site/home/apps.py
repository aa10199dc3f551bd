from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The example site's pages: a home page, standard pages and a blog."""

    name = "example_site.home"
    label = "home"
    verbose_name = "Example site pages"
    default_auto_field = "django.db.models.BigAutoField"

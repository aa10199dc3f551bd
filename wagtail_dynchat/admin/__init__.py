"""Admin UI: viewsets, views and the Dynamic Chat menu group (registered in wagtail_hooks)."""

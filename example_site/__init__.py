"""A small Wagtail site that uses wagtail-dynchat; never packaged."""

from .celery import app as celery_app

__all__ = ["celery_app"]

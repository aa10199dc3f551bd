#!/usr/bin/env python
"""Run management commands of the example site from anywhere in the checkout."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # The script's own folder would come first on the path, and its celery.py would hide the
    # real celery package; the checkout root goes there instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

"""The "Calendar agent" and "Sales admin" groups, editable afterwards like any Wagtail group."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

CALENDAR_AGENT = "Calendar agent"
SALES_ADMIN = "Sales admin"
SALES_MODELS = ("agent", "calendarconnection", "meeting", "meetingqueue", "routingrule", "account")


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran; the groups need them now.
    for app_label in ("wagtail_dynchat", "wagtailadmin"):
        create_permissions(global_apps.get_app_config(app_label), apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin_access = Permission.objects.get(
        content_type__app_label="wagtailadmin", codename="access_admin"
    )

    agents, _ = Group.objects.get_or_create(name=CALENDAR_AGENT)
    agents.permissions.add(
        admin_access,
        Permission.objects.get(content_type__app_label="wagtail_dynchat", codename="take_meetings"),
    )

    admins, _ = Group.objects.get_or_create(name=SALES_ADMIN)
    admins.permissions.add(
        admin_access,
        *Permission.objects.filter(
            content_type__app_label="wagtail_dynchat", content_type__model__in=SALES_MODELS
        ).exclude(codename="take_meetings"),
    )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=(CALENDAR_AGENT, SALES_ADMIN)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_dynchat", "0004_meetings"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]

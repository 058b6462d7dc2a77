"""Existing tenants get the default lifecycle templates, event types and rules."""

from django.db import migrations


def install(apps, schema_editor):
    from notifications.defaults import install_with

    Tenant = apps.get_model("omnichannel", "Tenant")
    models = [
        apps.get_model("notifications", name)
        for name in ("EventType", "NotificationTemplate", "NotificationRule")
    ]
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        install_with(tenant_id, *models)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

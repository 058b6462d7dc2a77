"""Existing tenants get the defaults added since 0002: the payment-due reminder (its event type
``payment.due``, template in Spanish and English, and rule) and the HTML version of every default
template they have not edited. Idempotent, like ``manage.py install_notification_defaults``."""

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
    dependencies = [("notifications", "0003_template_body_html")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

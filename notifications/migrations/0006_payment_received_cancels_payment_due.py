"""A payment received ends the payment-due reminders of its booking: tenants whose default
``payment.received`` is as shipped get its subject (``booking_id``) and ``cancels:
["payment.due"]``; an event type a tenant changed is left alone. New tenants get it from
``notifications.defaults``."""

from django.db import migrations


def link(apps, schema_editor):
    EventType = apps.get_model("notifications", "EventType")
    EventType.objects.filter(key="payment.received", subject_key="", cancels=[]).update(
        subject_key="booking_id", cancels=["payment.due"]
    )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0005_event_type_cancels")]

    operations = [migrations.RunPython(link, migrations.RunPython.noop)]

"""The calendar's lifecycle for existing tenants: the ``appointment.changed`` event type (it
moves an appointment's pending reminders; :func:`install_with` adds it like any missing default)
and the reminder an hour before, added next to the 24-hour one where the tenant still has that
one as shipped (a tenant that removed appointment reminders does not get one back). New tenants
get both from ``notifications.defaults``."""

from django.db import migrations

HOUR_RULE = "Appointment reminder (1 h)"
DAY_RULE = "Appointment reminder (24 h)"


def install(apps, schema_editor):
    from notifications.defaults import install_with

    Tenant = apps.get_model("omnichannel", "Tenant")
    EventType = apps.get_model("notifications", "EventType")
    NotificationTemplate = apps.get_model("notifications", "NotificationTemplate")
    NotificationRule = apps.get_model("notifications", "NotificationRule")
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        install_with(tenant_id, EventType, NotificationTemplate, NotificationRule)
    day_rules = NotificationRule.objects.filter(
        name=DAY_RULE, event_type__key="appointment.scheduled", timing="before"
    )
    for day_rule in day_rules:
        if NotificationRule.objects.filter(
            tenant_id=day_rule.tenant_id, event_type_id=day_rule.event_type_id, name=HOUR_RULE
        ).exists():
            continue
        NotificationRule.objects.create(
            tenant_id=day_rule.tenant_id,
            event_type_id=day_rule.event_type_id,
            name=HOUR_RULE,
            template_id=day_rule.template_id,
            channels=day_rule.channels,
            timing="before",
            offset=1,
            unit="hours",
            date_key="appointment_at",
            quiet_hours=False,
            is_active=day_rule.is_active,
        )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0007_event_subject_index")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

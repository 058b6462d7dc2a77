"""The default lifecycle: installed with every tenant, both languages, idempotent, editable."""

from django.core.management import call_command

from notifications.defaults import RULES, TEMPLATES, install_default_templates
from notifications.models import EventType, NotificationRule, NotificationTemplate
from omnichannel.actions import do_create_tenant

SEED_KEYS = {
    "email_verification",
    "welcome",
    "booking_confirmed",
    "payment_received",
    "quote_sent",
    "quote_expiring",
    "pre_trip_reminder",
    "post_trip_survey",
    "itinerary_changed",
    "password_recovery",
    "appointment_reminder",
}


def test_a_new_tenant_gets_the_seed_lifecycle_in_spanish_and_english(db):
    tenant, _ = do_create_tenant(name="Viajes Sol", owner_email="sol@example.test")
    templates = NotificationTemplate.objects.filter(tenant=tenant)
    assert set(templates.values_list("key", flat=True)) == SEED_KEYS == set(TEMPLATES)
    assert set(templates.values_list("language", flat=True)) == {"es", "en"}
    assert templates.count() == 22
    assert NotificationRule.objects.filter(tenant=tenant).count() == len(RULES)
    offsets = sorted(
        NotificationRule.objects.filter(
            tenant=tenant, template__key="pre_trip_reminder"
        ).values_list("offset", flat=True)
    )
    assert offsets == [1, 3, 7]


def test_installing_again_changes_nothing_and_keeps_edits(tenant, capsys):
    template = NotificationTemplate.objects.get(tenant=tenant, key="welcome", language="es")
    template.body = "¡Hola {{firstName}}!"
    template.save()
    NotificationRule.objects.filter(tenant=tenant, name="Welcome").delete()
    assert install_default_templates(tenant) == {"templates": 0, "event_types": 0, "rules": 0}
    call_command("install_notification_defaults", tenant=tenant.pk)
    assert '"templates": 0' in capsys.readouterr().out
    template.refresh_from_db()
    assert template.body == "¡Hola {{firstName}}!"
    assert not NotificationRule.objects.filter(tenant=tenant, name="Welcome").exists()
    assert EventType.objects.filter(tenant=tenant).count() == 11

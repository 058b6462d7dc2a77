"""The default lifecycle: installed with every tenant, both languages, idempotent, editable."""

from django.core.management import call_command

from notifications.defaults import EVENT_TYPES, RULES, TEMPLATES, install_default_templates
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
    "payment_due",  # seed 001's "Recordatorio de Pago"
}


def test_a_new_tenant_gets_the_seed_lifecycle_in_spanish_and_english(db):
    tenant, _ = do_create_tenant(name="Viajes Sol", owner_email="sol@example.test")
    templates = NotificationTemplate.objects.filter(tenant=tenant)
    assert set(templates.values_list("key", flat=True)) == SEED_KEYS == set(TEMPLATES)
    assert set(templates.values_list("language", flat=True)) == {"es", "en"}
    assert templates.count() == 24
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
    assert install_default_templates(tenant) == {
        "templates": 0,
        "event_types": 0,
        "rules": 0,
        "html": 0,
    }
    call_command("install_notification_defaults", tenant=tenant.pk)
    assert '"templates": 0' in capsys.readouterr().out
    template.refresh_from_db()
    assert template.body == "¡Hola {{firstName}}!"
    assert not NotificationRule.objects.filter(tenant=tenant, name="Welcome").exists()
    assert EventType.objects.filter(tenant=tenant).count() == len(EVENT_TYPES) == 13


def test_every_default_template_has_an_html_version_its_rules_can_render(tenant):
    from notifications.actions import do_save_template

    templates = NotificationTemplate.objects.filter(tenant=tenant)
    assert all(t.body_html.startswith("<p>") for t in templates)
    for template in templates:
        # Saved as shipped: every variable of the text and the HTML is known to its rules.
        do_save_template(
            tenant,
            template=template,
            key=template.key,
            language=template.language,
            name=template.name,
            subject=template.subject,
            body=template.body,
            body_html=template.body_html,
            category=template.category,
        )


def test_the_payment_due_reminder_is_among_the_defaults(tenant):
    (rule,) = NotificationRule.objects.filter(tenant=tenant, event_type__key="payment.due")
    assert (rule.timing, rule.offset, rule.unit, rule.date_key) == ("before", 3, "days", "due_date")
    assert rule.template.key == "payment_due" and rule.quiet_hours
    event_type = rule.event_type
    assert event_type.subject_key == "booking_id"  # booking.cancelled cancels it too
    assert {"amount", "currency", "due_date", "payment_url"} <= set(event_type.data_keys)
    bodies = dict(
        NotificationTemplate.objects.filter(tenant=tenant, key="payment_due").values_list(
            "language", "body"
        )
    )
    assert set(bodies) == {"es", "en"}
    assert "pago pendiente" in bodies["es"] and "payment of" in bodies["en"]


def _as_before_this_release(tenant) -> NotificationTemplate:
    """The tenant as migration 0002 left it: no payment reminder, no HTML; one text edited."""
    EventType.objects.filter(tenant=tenant, key="payment.due").delete()  # and its rule
    NotificationTemplate.objects.filter(tenant=tenant, key="payment_due").delete()
    NotificationTemplate.objects.filter(tenant=tenant).update(body_html="")
    edited = NotificationTemplate.objects.get(tenant=tenant, key="welcome", language="es")
    edited.body = "¡Hola {{firstName}}!"
    edited.save()
    return edited


def _upgraded(tenant, edited: NotificationTemplate) -> None:
    assert NotificationRule.objects.filter(tenant=tenant, event_type__key="payment.due").exists()
    templates = NotificationTemplate.objects.filter(tenant=tenant)
    assert templates.filter(key="payment_due").count() == 2
    assert list(templates.filter(body_html="")) == [edited]  # an edited text keeps no HTML


def test_existing_tenants_get_the_payment_reminder_and_html_by_migration_and_command(
    tenant, other_tenant, capsys
):
    import importlib

    from django.apps import apps

    edited = _as_before_this_release(tenant)
    other_edited = _as_before_this_release(other_tenant)
    migration = importlib.import_module(
        "notifications.migrations.0004_payment_due_and_html_defaults"
    )
    migration.install(apps, None)
    _upgraded(tenant, edited)
    _upgraded(other_tenant, other_edited)

    again = _as_before_this_release(tenant)
    assert install_default_templates(tenant) == {
        "templates": 2,
        "event_types": 1,
        "rules": 1,
        "html": 21,  # 24 templates: 2 new ones come with it, the edited one stays text
    }
    _upgraded(tenant, again)
    call_command("install_notification_defaults", tenant=tenant.pk)
    assert '"templates": 0, "event_types": 0, "rules": 0, "html": 0' in capsys.readouterr().out


def test_the_calendar_migration_gives_existing_tenants_the_reschedule_and_the_hour_reminder(
    tenant, other_tenant
):
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "notifications.migrations.0008_appointment_changed_and_hour_reminder"
    )
    hour = "Appointment reminder (1 h)"
    # As a tenant made before this migration: no appointment.changed, no hour reminder.
    EventType.objects.filter(tenant=tenant, key="appointment.changed").delete()
    NotificationRule.objects.filter(name=hour).delete()
    # The other tenant removed its appointment reminders: it does not get one back.
    NotificationRule.objects.filter(
        tenant=other_tenant, event_type__key="appointment.scheduled"
    ).delete()
    migration.install(apps, None)
    migration.install(apps, None)  # idempotent
    changed = EventType.objects.get(tenant=tenant, key="appointment.changed")
    assert (changed.effect, changed.subject_key) == ("reschedule", "appointment_id")
    rule = NotificationRule.objects.get(tenant=tenant, name=hour)
    assert (rule.timing, rule.offset, rule.unit, rule.quiet_hours) == ("before", 1, "hours", False)
    assert rule.template.key == "appointment_reminder"
    assert not NotificationRule.objects.filter(tenant=other_tenant, name=hour).exists()

# ruff: noqa: E501  (the RULES table reads best one rule per line)
"""The lifecycle a travel business ships with (the seed's list): event types, editable templates
in Spanish and English, and the rules tying them together. :func:`install_default_templates`
adds what a tenant lacks and never changes what it has (so edits survive)."""

from django.db import transaction

from notifications.models import EventType, NotificationRule, NotificationTemplate
from omnichannel.models import Tenant

T = "transactional"
M = "marketing"
HI_ES = 'Hola {{firstName|default:"viajero"}}'
HI_EN = 'Hi {{firstName|default:"traveller"}}'

# key: (category, {language: (name, subject, body)})
TEMPLATES: dict[str, tuple[str, dict[str, tuple[str, str, str]]]] = {
    "email_verification": (
        T,
        {
            "es": (
                "Verificación de email",
                "Confirma tu correo",
                f"{HI_ES}, confirma tu correo con este enlace: {{{{verification_url}}}}",
            ),
            "en": (
                "Email verification",
                "Confirm your email",
                f"{HI_EN}, confirm your email with this link: {{{{verification_url}}}}",
            ),
        },
    ),
    "welcome": (
        T,
        {
            "es": (
                "Bienvenida",
                "¡Bienvenido!",
                f"{HI_ES}, ¡bienvenido! Tu cuenta está lista. Escríbenos aquí cuando quieras.",
            ),
            "en": (
                "Welcome",
                "Welcome!",
                f"{HI_EN}, welcome! Your account is ready. Write to us here any time.",
            ),
        },
    ),
    "booking_confirmed": (
        T,
        {
            "es": (
                "Reserva confirmada",
                "Tu reserva {{booking_id}} está confirmada",
                f"{HI_ES}, tu reserva {{{{booking_id}}}} a "
                '{{destination|default:"tu destino"}} está confirmada. Salida: {{trip_date}}.',
            ),
            "en": (
                "Booking confirmed",
                "Your booking {{booking_id}} is confirmed",
                f"{HI_EN}, your booking {{{{booking_id}}}} to "
                '{{destination|default:"your destination"}} is confirmed. Departure: '
                "{{trip_date}}.",
            ),
        },
    ),
    "payment_received": (
        T,
        {
            "es": (
                "Pago recibido",
                "Recibimos tu pago",
                f"{HI_ES}, recibimos tu pago de {{{{amount}}}} "
                '{{currency|default:""}}. ¡Gracias!',
            ),
            "en": (
                "Payment received",
                "We received your payment",
                f'{HI_EN}, we received your payment of {{{{amount}}}} {{{{currency|default:""}}}}.'
                " Thank you!",
            ),
        },
    ),
    "quote_sent": (
        T,
        {
            "es": (
                "Cotización enviada",
                "Tu cotización {{quote_id}}",
                f"{HI_ES}, aquí está tu cotización {{{{quote_id}}}}: "
                '{{quote_url|default:""}} Es válida hasta {{expires_at}}.',
            ),
            "en": (
                "Quote sent",
                "Your quote {{quote_id}}",
                f"{HI_EN}, here is your quote {{{{quote_id}}}}: "
                '{{quote_url|default:""}} It is valid until {{expires_at}}.',
            ),
        },
    ),
    "quote_expiring": (
        T,
        {
            "es": (
                "Cotización por expirar",
                "Tu cotización vence pronto",
                f"{HI_ES}, tu cotización {{{{quote_id}}}} vence el {{{{expires_at}}}}. "
                "¿Te ayudamos a reservar?",
            ),
            "en": (
                "Quote expiring",
                "Your quote expires soon",
                f"{HI_EN}, your quote {{{{quote_id}}}} expires on {{{{expires_at}}}}. "
                "Can we help you book?",
            ),
        },
    ),
    "pre_trip_reminder": (
        T,
        {
            "es": (
                "Recordatorio pre-viaje",
                "Tu viaje se acerca",
                f'{HI_ES}, tu viaje a {{{{destination|default:"tu destino"}}}} sale el '
                "{{trip_date}}. Revisa documentos y equipaje.",
            ),
            "en": (
                "Pre-trip reminder",
                "Your trip is coming up",
                f'{HI_EN}, your trip to {{{{destination|default:"your destination"}}}} leaves '
                "on {{trip_date}}. Check your documents and luggage.",
            ),
        },
    ),
    "post_trip_survey": (
        M,
        {
            "es": (
                "Encuesta post-viaje",
                "¿Qué tal tu viaje?",
                f'{HI_ES}, ¿qué tal tu viaje a {{{{destination|default:"tu destino"}}}}? '
                'Cuéntanos en 1 minuto: {{survey_url|default:""}}',
            ),
            "en": (
                "Post-trip survey",
                "How was your trip?",
                f'{HI_EN}, how was your trip to {{{{destination|default:"your destination"}}}}?'
                ' Tell us in 1 minute: {{survey_url|default:""}}',
            ),
        },
    ),
    "itinerary_changed": (
        T,
        {
            "es": (
                "Cambio de itinerario",
                "Cambió tu reserva {{booking_id}}",
                f"{HI_ES}, tu reserva {{{{booking_id}}}} cambió. Nueva salida: {{{{trip_date}}}}."
                ' {{change_summary|default:""}}',
            ),
            "en": (
                "Itinerary changed",
                "Your booking {{booking_id}} changed",
                f"{HI_EN}, your booking {{{{booking_id}}}} changed. New departure: "
                '{{trip_date}}. {{change_summary|default:""}}',
            ),
        },
    ),
    "password_recovery": (
        T,
        {
            "es": (
                "Recuperación de contraseña",
                "Restablece tu contraseña",
                f"{HI_ES}, restablece tu contraseña aquí: {{{{reset_url}}}} "
                "Si no lo pediste, ignora este mensaje.",
            ),
            "en": (
                "Password recovery",
                "Reset your password",
                f"{HI_EN}, reset your password here: {{{{reset_url}}}} "
                "If you did not ask for it, ignore this message.",
            ),
        },
    ),
    "appointment_reminder": (
        T,
        {
            "es": (
                "Recordatorio de cita",
                "Recordatorio de tu cita",
                f"{HI_ES}, te recordamos tu cita el {{{{appointment_at}}}} con "
                '{{agent_name|default:"nuestro equipo"}}.',
            ),
            "en": (
                "Appointment reminder",
                "Your appointment reminder",
                f"{HI_EN}, a reminder of your appointment on {{{{appointment_at}}}} with "
                '{{agent_name|default:"our team"}}.',
            ),
        },
    ),
}

S = "schedule"
R = "reschedule"
C = "cancel"
BOOKING_KEYS = ["booking_id", "destination", "trip_date", "return_date", "survey_url"]
QUOTE_KEYS = ["quote_id", "destination", "quote_url", "expires_at"]

# key: (name, effect, subject_key, data_keys)
EVENT_TYPES: dict[str, tuple[str, str, str, list[str]]] = {
    "account.registered": ("Account registered", S, "", ["verification_url"]),
    "account.verified": ("Email verified", S, "", []),
    "booking.confirmed": ("Booking confirmed", S, "booking_id", BOOKING_KEYS),
    "booking.changed": ("Booking changed", R, "booking_id", [*BOOKING_KEYS, "change_summary"]),
    "booking.cancelled": ("Booking cancelled", C, "booking_id", ["booking_id"]),
    "payment.received": ("Payment received", S, "", ["booking_id", "amount", "currency"]),
    "quote.sent": ("Quote sent", S, "quote_id", QUOTE_KEYS),
    "quote.accepted": ("Quote accepted", C, "quote_id", ["quote_id"]),
    "password.reset_requested": ("Password reset requested", S, "", ["reset_url"]),
    "appointment.scheduled": (
        "Appointment scheduled",
        S,
        "appointment_id",
        ["appointment_id", "appointment_at", "agent_name"],
    ),
    "appointment.cancelled": ("Appointment cancelled", C, "appointment_id", ["appointment_id"]),
}

CHAT_FIRST = ["whatsapp", "sms", "email"]
EMAIL_FIRST = ["email", "sms"]
NOW, BEFORE, AFTER = "now", "before", "after"
DAYS, HOURS = "days", "hours"

# (event type, name, template key, channels, timing, offset, unit, date key, quiet hours)
RULES = [
    ("account.registered", "Email verification", "email_verification", EMAIL_FIRST, NOW, 0, DAYS, "", False),
    ("account.verified", "Welcome", "welcome", CHAT_FIRST, NOW, 0, DAYS, "", True),
    ("booking.confirmed", "Booking confirmation", "booking_confirmed", CHAT_FIRST, NOW, 0, DAYS, "", False),
    ("booking.confirmed", "Pre-trip reminder (7 days)", "pre_trip_reminder", CHAT_FIRST, BEFORE, 7, DAYS, "trip_date", True),
    ("booking.confirmed", "Pre-trip reminder (3 days)", "pre_trip_reminder", CHAT_FIRST, BEFORE, 3, DAYS, "trip_date", True),
    ("booking.confirmed", "Pre-trip reminder (1 day)", "pre_trip_reminder", CHAT_FIRST, BEFORE, 1, DAYS, "trip_date", True),
    ("booking.confirmed", "Post-trip survey", "post_trip_survey", CHAT_FIRST, AFTER, 2, DAYS, "return_date", True),
    ("booking.changed", "Itinerary changed", "itinerary_changed", CHAT_FIRST, NOW, 0, DAYS, "", False),
    ("payment.received", "Payment received", "payment_received", CHAT_FIRST, NOW, 0, DAYS, "", False),
    ("quote.sent", "Quote sent", "quote_sent", CHAT_FIRST, NOW, 0, DAYS, "", False),
    ("quote.sent", "Quote expiring (24 h)", "quote_expiring", CHAT_FIRST, BEFORE, 24, HOURS, "expires_at", True),
    ("password.reset_requested", "Password recovery", "password_recovery", EMAIL_FIRST, NOW, 0, DAYS, "", False),
    ("appointment.scheduled", "Appointment reminder (24 h)", "appointment_reminder", CHAT_FIRST, BEFORE, 24, HOURS, "appointment_at", True),
]  # fmt: skip
RULE_LANGUAGE = "es"  # the seed's language; contacts with language "en" get the English one


@transaction.atomic
def install_default_templates(tenant: Tenant) -> dict[str, int]:
    """Give ``tenant`` the default templates (both languages), event types and rules it lacks.
    Idempotent: existing rows, edited or not, are left alone; rules are added only with their
    event type, so a tenant that deleted a default rule does not get it back."""
    return install_with(tenant.pk, EventType, NotificationTemplate, NotificationRule)


def install_with(tenant_id: int, EventType, NotificationTemplate, NotificationRule) -> dict:
    """The installation with the given model classes (the data migration passes its own)."""
    before = NotificationTemplate.objects.filter(tenant_id=tenant_id).count()
    templates = [
        NotificationTemplate(
            tenant_id=tenant_id,
            key=key,
            language=language,
            name=name,
            subject=subject,
            body=body,
            category=category,
            is_default=True,
        )
        for key, (category, languages) in TEMPLATES.items()
        for language, (name, subject, body) in languages.items()
    ]
    NotificationTemplate.objects.bulk_create(templates, ignore_conflicts=True)
    existing_types = set(
        EventType.objects.filter(tenant_id=tenant_id).values_list("key", flat=True)
    )
    new_types = EventType.objects.bulk_create(
        [
            EventType(
                tenant_id=tenant_id,
                key=key,
                name=name,
                effect=effect,
                subject_key=subject_key,
                data_keys=data_keys,
            )
            for key, (name, effect, subject_key, data_keys) in EVENT_TYPES.items()
            if key not in existing_types
        ]
    )
    rules = []
    if new_types:
        by_key = {t.key: t for t in new_types}
        template_ids = dict(
            NotificationTemplate.objects.filter(
                tenant_id=tenant_id, language=RULE_LANGUAGE
            ).values_list("key", "pk")
        )
        for type_key, name, template_key, channels, timing, offset, unit, date_key, quiet in RULES:
            if type_key not in by_key or template_key not in template_ids:
                continue
            rules.append(
                NotificationRule(
                    tenant_id=tenant_id,
                    event_type=by_key[type_key],
                    name=name,
                    template_id=template_ids[template_key],
                    channels=channels,
                    timing=timing,
                    offset=offset,
                    unit=unit,
                    date_key=date_key,
                    quiet_hours=quiet,
                )
            )
        NotificationRule.objects.bulk_create(rules)
    return {
        "templates": NotificationTemplate.objects.filter(tenant_id=tenant_id).count() - before,
        "event_types": len(new_types),
        "rules": len(rules),
    }

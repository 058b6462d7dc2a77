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
    "payment_due": (
        T,
        {
            "es": (
                "Recordatorio de pago",
                "Recordatorio de pago de tu reserva {{booking_id}}",
                f"{HI_ES}, te recordamos que tienes un pago pendiente de {{{{amount}}}} "
                '{{currency|default:""}} para tu reserva {{booking_id}}, con vencimiento el '
                '{{due_date}}. Paga aquí: {{payment_url|default:""}}',
            ),
            "en": (
                "Payment reminder",
                "Payment reminder for your booking {{booking_id}}",
                f"{HI_EN}, a reminder that a payment of {{{{amount}}}} "
                '{{currency|default:""}} for your booking {{booking_id}} is due on '
                '{{due_date}}. Pay here: {{payment_url|default:""}}',
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

# The HTML version of each template for email (key: {language: html}): content only, wrapped
# when sent in the inbox's branding (logo, colour, footer: inbox.providers.anymail.provider.render_html).
# Values are escaped when rendered, so a name like "Ana <3" stays text.
P_ES = f"<p>{HI_ES}:</p>"
P_EN = f"<p>{HI_EN},</p>"
SMALL = '<p style="font-size:13px;color:#71717a">'
HTML: dict[str, dict[str, str]] = {
    "email_verification": {
        "es": f"{P_ES}<p>Confirma tu correo para activar tu cuenta:</p>"
        '<p><a href="{{verification_url}}"><strong>Confirmar mi correo</strong></a></p>'
        f"{SMALL}Si el enlace no abre, copia esta dirección: {{{{verification_url}}}}</p>",
        "en": f"{P_EN}<p>Confirm your email to activate your account:</p>"
        '<p><a href="{{verification_url}}"><strong>Confirm my email</strong></a></p>'
        f"{SMALL}If the link does not open, copy this address: {{{{verification_url}}}}</p>",
    },
    "welcome": {
        "es": f"{P_ES}<p><strong>¡Bienvenido!</strong> Tu cuenta está lista.</p>"
        "<p>Responde a este correo cuando quieras: te atendemos aquí mismo.</p>",
        "en": f"{P_EN}<p><strong>Welcome!</strong> Your account is ready.</p>"
        "<p>Reply to this email any time: we answer right here.</p>",
    },
    "booking_confirmed": {
        "es": f"{P_ES}<p>Tu reserva <strong>{{{{booking_id}}}}</strong> está confirmada.</p>"
        '<p>Destino: <strong>{{destination|default:"tu destino"}}</strong><br>'
        "Salida: <strong>{{trip_date}}</strong></p>",
        "en": f"{P_EN}<p>Your booking <strong>{{{{booking_id}}}}</strong> is confirmed.</p>"
        '<p>Destination: <strong>{{destination|default:"your destination"}}</strong><br>'
        "Departure: <strong>{{trip_date}}</strong></p>",
    },
    "payment_received": {
        "es": f"{P_ES}<p>Recibimos tu pago de <strong>{{{{amount}}}} "
        '{{currency|default:""}}</strong>. ¡Gracias!</p>',
        "en": f"{P_EN}<p>We received your payment of <strong>{{{{amount}}}} "
        '{{currency|default:""}}</strong>. Thank you!</p>',
    },
    "payment_due": {
        "es": f"{P_ES}<p>Te recordamos que tienes un pago pendiente para tu reserva "
        "<strong>{{booking_id}}</strong>:</p>"
        '<p>Importe: <strong>{{amount}} {{currency|default:""}}</strong><br>'
        "Vence: <strong>{{due_date}}</strong></p>"
        '<p><a href="{{payment_url|default:""}}"><strong>Pagar ahora</strong></a></p>',
        "en": f"{P_EN}<p>A reminder that a payment for your booking "
        "<strong>{{booking_id}}</strong> is due:</p>"
        '<p>Amount: <strong>{{amount}} {{currency|default:""}}</strong><br>'
        "Due on: <strong>{{due_date}}</strong></p>"
        '<p><a href="{{payment_url|default:""}}"><strong>Pay now</strong></a></p>',
    },
    "quote_sent": {
        "es": f"{P_ES}<p>Aquí está tu cotización <strong>{{{{quote_id}}}}</strong>, válida "
        "hasta el {{expires_at}}.</p>"
        '<p><a href="{{quote_url|default:""}}"><strong>Ver mi cotización</strong></a></p>',
        "en": f"{P_EN}<p>Here is your quote <strong>{{{{quote_id}}}}</strong>, valid until "
        "{{expires_at}}.</p>"
        '<p><a href="{{quote_url|default:""}}"><strong>See my quote</strong></a></p>',
    },
    "quote_expiring": {
        "es": f"{P_ES}<p>Tu cotización <strong>{{{{quote_id}}}}</strong> vence el "
        "<strong>{{expires_at}}</strong>.</p><p>¿Te ayudamos a reservar? Responde a este "
        "correo.</p>",
        "en": f"{P_EN}<p>Your quote <strong>{{{{quote_id}}}}</strong> expires on "
        "<strong>{{expires_at}}</strong>.</p><p>Can we help you book? Reply to this email.</p>",
    },
    "pre_trip_reminder": {
        "es": f"{P_ES}<p>Tu viaje a "
        '<strong>{{destination|default:"tu destino"}}</strong> sale el '
        "<strong>{{trip_date}}</strong>.</p><p>Revisa tus documentos y tu equipaje.</p>",
        "en": f"{P_EN}<p>Your trip to "
        '<strong>{{destination|default:"your destination"}}</strong> leaves on '
        "<strong>{{trip_date}}</strong>.</p><p>Check your documents and luggage.</p>",
    },
    "post_trip_survey": {
        "es": f"{P_ES}<p>¿Qué tal tu viaje a "
        '<strong>{{destination|default:"tu destino"}}</strong>?</p>'
        '<p><a href="{{survey_url|default:""}}"><strong>Cuéntanos en 1 minuto</strong></a></p>',
        "en": f"{P_EN}<p>How was your trip to "
        '<strong>{{destination|default:"your destination"}}</strong>?</p>'
        '<p><a href="{{survey_url|default:""}}"><strong>Tell us in 1 minute</strong></a></p>',
    },
    "itinerary_changed": {
        "es": f"{P_ES}<p>Tu reserva <strong>{{{{booking_id}}}}</strong> cambió.</p>"
        "<p>Nueva salida: <strong>{{trip_date}}</strong></p>"
        '<p>{{change_summary|default:""}}</p>',
        "en": f"{P_EN}<p>Your booking <strong>{{{{booking_id}}}}</strong> changed.</p>"
        "<p>New departure: <strong>{{trip_date}}</strong></p>"
        '<p>{{change_summary|default:""}}</p>',
    },
    "password_recovery": {
        "es": f"{P_ES}<p>Restablece tu contraseña con este enlace:</p>"
        '<p><a href="{{reset_url}}"><strong>Restablecer mi contraseña</strong></a></p>'
        f"{SMALL}Si no lo pediste, ignora este mensaje.</p>",
        "en": f"{P_EN}<p>Reset your password with this link:</p>"
        '<p><a href="{{reset_url}}"><strong>Reset my password</strong></a></p>'
        f"{SMALL}If you did not ask for it, ignore this message.</p>",
    },
    "appointment_reminder": {
        "es": f"{P_ES}<p>Te recordamos tu cita el <strong>{{{{appointment_at}}}}</strong> con "
        '{{agent_name|default:"nuestro equipo"}}.</p>',
        "en": f"{P_EN}<p>A reminder of your appointment on "
        '<strong>{{appointment_at}}</strong> with {{agent_name|default:"our team"}}.</p>',
    },
}

S = "schedule"
R = "reschedule"
C = "cancel"
BOOKING_KEYS = ["booking_id", "destination", "trip_date", "return_date", "survey_url"]
QUOTE_KEYS = ["quote_id", "destination", "quote_url", "expires_at"]

# What an event type cancels besides its effect: a payment received ends the reminders that
# asked for it.
CANCELS = {"payment.received": ["payment.due"]}

# key: (name, effect, subject_key, data_keys)
EVENT_TYPES: dict[str, tuple[str, str, str, list[str]]] = {
    "account.registered": ("Account registered", S, "", ["verification_url"]),
    "account.verified": ("Email verified", S, "", []),
    "booking.confirmed": ("Booking confirmed", S, "booking_id", BOOKING_KEYS),
    "booking.changed": ("Booking changed", R, "booking_id", [*BOOKING_KEYS, "change_summary"]),
    "booking.cancelled": ("Booking cancelled", C, "booking_id", ["booking_id"]),
    "payment.received": ("Payment received", S, "booking_id", ["booking_id", "amount", "currency"]),
    "payment.due": (
        "Payment due",
        S,
        "booking_id",
        ["booking_id", "amount", "currency", "due_date", "payment_url"],
    ),
    "quote.sent": ("Quote sent", S, "quote_id", QUOTE_KEYS),
    "quote.accepted": ("Quote accepted", C, "quote_id", ["quote_id"]),
    "password.reset_requested": ("Password reset requested", S, "", ["reset_url"]),
    "appointment.scheduled": (
        "Appointment scheduled",
        S,
        "appointment_id",
        ["appointment_id", "appointment_at", "agent_name"],
    ),
    "appointment.changed": (
        "Appointment changed",
        R,
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
    ("payment.due", "Payment reminder (3 days)", "payment_due", CHAT_FIRST, BEFORE, 3, DAYS, "due_date", True),
    ("quote.sent", "Quote sent", "quote_sent", CHAT_FIRST, NOW, 0, DAYS, "", False),
    ("quote.sent", "Quote expiring (24 h)", "quote_expiring", CHAT_FIRST, BEFORE, 24, HOURS, "expires_at", True),
    ("password.reset_requested", "Password recovery", "password_recovery", EMAIL_FIRST, NOW, 0, DAYS, "", False),
    ("appointment.scheduled", "Appointment reminder (24 h)", "appointment_reminder", CHAT_FIRST, BEFORE, 24, HOURS, "appointment_at", True),
    # An hour before is no time to wait for the morning: quiet hours do not hold it.
    ("appointment.scheduled", "Appointment reminder (1 h)", "appointment_reminder", CHAT_FIRST, BEFORE, 1, HOURS, "appointment_at", False),
]  # fmt: skip
RULE_LANGUAGE = "es"  # the seed's language; contacts with language "en" get the English one


@transaction.atomic
def install_default_templates(tenant: Tenant) -> dict[str, int]:
    """Give ``tenant`` the default templates (both languages), event types and rules it lacks.
    Idempotent: existing rows, edited or not, are left alone; rules are added only with their
    event type, so a tenant that deleted a default rule does not get it back. The one addition
    to existing rows: a default template still holding the shipped text and no HTML gets the
    shipped HTML version (``html`` counts them); an edited one is never touched."""
    return install_with(tenant.pk, EventType, NotificationTemplate, NotificationRule)


def install_with(tenant_id: int, EventType, NotificationTemplate, NotificationRule) -> dict:
    """The installation with the given model classes (the data migrations pass their own; the
    oldest have no ``body_html`` yet)."""
    has_html = any(f.name == "body_html" for f in NotificationTemplate._meta.get_fields())
    has_cancels = any(f.name == "cancels" for f in EventType._meta.get_fields())
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
            **({"body_html": HTML[key][language]} if has_html else {}),
        )
        for key, (category, languages) in TEMPLATES.items()
        for language, (name, subject, body) in languages.items()
    ]
    NotificationTemplate.objects.bulk_create(templates, ignore_conflicts=True)
    html_added = 0
    if has_html:
        without_html = NotificationTemplate.objects.filter(
            tenant_id=tenant_id, is_default=True, body_html=""
        ).values_list("pk", "key", "language", "body")
        for pk, key, language, body in without_html:
            shipped = TEMPLATES.get(key, ("", {}))[1].get(language)
            if shipped is not None and shipped[2] == body:
                html_added += NotificationTemplate.objects.filter(pk=pk, body_html="").update(
                    body_html=HTML[key][language]
                )
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
                **({"cancels": CANCELS.get(key, [])} if has_cancels else {}),
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
        "html": html_added,
    }

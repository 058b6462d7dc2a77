"""A contact's appointments for GDPR: erased with the contact, and exported with it.

Registered on ``contacts.hooks`` (``CalendarAppConfig.ready``). Appointments stay (the
resources' history and their times), their notes go; the ones still ahead are cancelled, so
their time is free again (nobody is coming). Their reminders are cancelled by notifications'
own hook.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from calendar_app.models import BLOCKING_STATES, Appointment, AppointmentResource, AppointmentState
from contacts.models import Contact
from contacts.personal_data import PersonalData
from omnichannel.api import forget_idempotency_keys


@transaction.atomic
def erase_calendar_data(contact: Contact, personal: PersonalData) -> dict[str, int]:
    appointments = Appointment.objects.filter(tenant_id=contact.tenant_id, contact=contact)
    ahead = list(appointments.filter(state__in=BLOCKING_STATES).values_list("pk", flat=True))
    now = timezone.now()
    appointments.filter(pk__in=ahead).update(
        state=AppointmentState.CANCELLED, cancelled_at=now, updated_at=now
    )
    AppointmentResource.objects.filter(appointment_id__in=ahead).update(
        state=AppointmentState.CANCELLED
    )
    ids = list(appointments.values_list("pk", flat=True))
    # The Idempotency-Key a booking came with may name the person (clients build keys so).
    forget_idempotency_keys(contact.tenant_id, "calendar", ids)
    erased = appointments.exclude(notes="").update(notes="")
    return {"appointments_cancelled": len(ahead), "appointment_notes_erased": erased}


def export_calendar_data(contact: Contact, personal: PersonalData) -> dict[str, Any]:
    """Their appointments, with type and resources. Two queries."""
    appointments = (
        Appointment.objects.filter(tenant_id=contact.tenant_id, contact=contact)
        .select_related("appointment_type")
        .prefetch_related("resources")
        .order_by("start_at", "id")
    )
    return {
        "appointments": [
            {
                "id": a.pk,
                "type": a.appointment_type.name,
                "resources": [r.name for r in a.resources.all()],
                "start": a.start_at.isoformat(),
                "end": a.end_at.isoformat(),
                "state": a.state,
                "notes": a.notes,
                "conversation_id": a.conversation_id,
                "created_at": a.created_at.isoformat(),
            }
            for a in appointments
        ]
    }

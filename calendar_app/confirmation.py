"""The confirmation a contact gets when an agent confirms their appointment from a
conversation: one text, sent on that conversation's channel through the inbox's own send
action (so consent, the channel's window and the agent's right to reply are checked there, at
send time, and the message lands in the thread like any reply).

The time is written in the contact's zone (their own, else the one their phone number says,
else the tenant's), with the zone named, so nobody has to guess whose ten o'clock it is.
"""

import zoneinfo

from django.utils.formats import date_format

from calendar_app.models import Appointment, Resource
from contacts.models import Contact
from contacts.timezones import timezone_for_phone
from inbox.actions.send import do_send_message
from inbox.models import Message
from omnichannel.actions import ActionError
from omnichannel.zones import first_zone


def contact_zone(contact: Contact) -> zoneinfo.ZoneInfo:
    """The zone the contact reads times in: theirs, else their phone's, else the tenant's,
    else UTC (a name that no longer exists is skipped)."""
    return first_zone(contact.timezone, timezone_for_phone(contact.phone), contact.tenant.timezone)


def confirmation_text(appointment: Appointment, resources: list[Resource]) -> str:
    """``Your Consultation with Ana is confirmed for Wednesday 2 December 2026 at 10:00
    (America/New_York).`` and how to change it."""
    contact = appointment.contact
    zone = contact_zone(contact)
    local = appointment.start_at.astimezone(zone)
    day = date_format(local, "l j F Y", use_l10n=False)
    with_whom = ", ".join(r.name for r in resources if r.kind == Resource.Kind.AGENT)
    greeting = f"Hi {contact.first_name}! " if contact.first_name else ""
    return (
        f"{greeting}Your {appointment.appointment_type.name}"
        + (f" with {with_whom}" if with_whom else "")
        + f" is confirmed for {day} at {local:%H:%M} ({zone.key}). "
        "Reply to this message if you need to change it."
    )


def do_send_confirmation(appointment: Appointment, *, acting_user) -> Message:
    """Send the confirmation of a confirmed appointment into the conversation it was booked
    from, as ``acting_user``. Raises ActionError (nothing sent) when the appointment is not
    confirmed or came from no conversation, or when the inbox refuses the send (the contact
    opted out, the member may not reply, ...)."""
    if appointment.state != Appointment.State.CONFIRMED:
        raise ActionError("Only a confirmed appointment gets a confirmation.")
    if appointment.conversation_id is None:
        raise ActionError("This appointment was not booked from a conversation.")
    resources = list(
        Resource.objects.filter(
            tenant_id=appointment.tenant_id, bookings__appointment=appointment
        ).order_by("name", "id")
    )
    return do_send_message(
        appointment.tenant,
        conversation=appointment.conversation_id,
        body=confirmation_text(appointment, resources),
        acting_user=acting_user,
    )

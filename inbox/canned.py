"""Canned responses as the composer inserts them: their variables filled for the contact of the
conversation, as message templates are filled (:mod:`contacts.templating`)."""

from collections.abc import Iterable

from contacts.attributes import definitions_for
from contacts.models import Contact
from contacts.templating import TemplateError, check_template, contact_values, render
from inbox.models import CannedResponse
from omnichannel.models import Tenant


def filled_for_contact(
    tenant: Tenant, responses: Iterable[CannedResponse], contact: Contact | None
) -> list[tuple[CannedResponse, str]]:
    """Each response with the text to insert: ``{{firstName|default:"there"}}`` becomes the
    contact's first name or "there". Without a contact, and for a response saved before
    variables were checked that still names an unknown one, the text as stored, so the agent
    sees what to fix rather than a silently dropped word."""
    responses = list(responses)
    if contact is None:
        return [(canned, canned.body) for canned in responses]
    keys = list(definitions_for(tenant))
    values = contact_values(contact, keys)
    filled = []
    for canned in responses:
        try:
            check_template(canned.body, keys)
        except TemplateError:
            filled.append((canned, canned.body))
            continue
        filled.append((canned, render(canned.body, values)))
    return filled

"""Centro's attributes of a contact pushed to its Chatwoot contact's custom attributes: the
next appointment, the latest booking, open quotes, opt-outs and a link back to Centro
(whatever the apps register on ``contacts.hooks``), so Chatwoot's agents see them beside
the conversation.

A change (an event posted, a consent changed, a contact linked) schedules one push per
contact a few seconds later, however many changes arrive meanwhile (the debounce), through
the tenant's Chatwoot connection. Chatwoot merges custom attributes into what it has, so the
push sends only Centro's keys (``centro_…``) and never touches the tenant's own; a value
Centro no longer has goes as null. A push that would send what the last one sent is skipped.
"""

import hashlib
import json
import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from contacts import hooks
from contacts.actions import do_link_external_ids
from contacts.models import Contact
from inbox.models import Inbox
from inbox.providers.chatwoot.client import ChatwootClient

logger = logging.getLogger(__name__)

SYSTEM = "chatwoot"
# How long a pushed fingerprint is remembered (a later identical push is skipped).
PUSHED_TTL = 7 * 24 * 60 * 60


def _scheduled_key(inbox_id: int, contact_id: int) -> str:
    return f"chatwoot:attributes-scheduled:{inbox_id}:{contact_id}"


def _pushed_key(inbox_id: int, contact_id: int) -> str:
    return f"chatwoot:attributes-pushed:{inbox_id}:{contact_id}"


def connection_of(tenant_id: int) -> Inbox | None:
    """The tenant's Chatwoot connection: its first active Chatwoot inbox (the contact ids
    Centro keeps are that account's)."""
    return (
        Inbox.objects.filter(tenant_id=tenant_id, provider=SYSTEM, is_active=True)
        .order_by("id")
        .first()
    )


def schedule_attribute_push(tenant_id: int, contact_ids: list[int]) -> None:
    """A push of each contact's attributes in CHATWOOT_ATTRIBUTES_DEBOUNCE_SECONDS, unless one
    is scheduled and not started (it will read the change). Only contacts Chatwoot can know:
    linked ones, and ones with a phone to find them by. Never fails the caller."""
    from inbox.tasks.chatwoot import push_contact_attributes_task

    inbox = connection_of(tenant_id)
    if inbox is None:
        return
    delay = settings.CHATWOOT_ATTRIBUTES_DEBOUNCE_SECONDS
    candidates = Contact.objects.filter(tenant_id=tenant_id, pk__in=contact_ids).filter(
        Q(external_ids__has_key=SYSTEM) | ~Q(phone="")
    )
    try:
        for contact_id in candidates.values_list("pk", flat=True):
            if cache.add(_scheduled_key(inbox.pk, contact_id), 1, timeout=delay + 300):
                push_contact_attributes_task.apply_async((inbox.pk, contact_id), countdown=delay)
    except Exception:
        # Redis or the broker is down: the next change schedules the push again.
        logger.exception("Could not schedule the Chatwoot attribute push for %s", contact_ids)


def do_push_contact_attributes(inbox: Inbox, contact: Contact) -> str:
    """Push ``contact``'s shared attributes to its Chatwoot contact (found by phone and linked
    when Centro has no id yet); a note saying what happened. ``ProviderError`` when Chatwoot
    refuses or cannot be reached (the task retries the retryable ones)."""
    cache.delete(_scheduled_key(inbox.pk, contact.pk))  # a change from now on pushes again
    attributes = hooks.shared_attributes(contact)
    fingerprint = hashlib.sha256(json.dumps(attributes, sort_keys=True).encode()).hexdigest()
    if cache.get(_pushed_key(inbox.pk, contact.pk)) == fingerprint:
        return "Chatwoot already has these attributes."
    client = ChatwootClient.for_inbox(inbox)
    chatwoot_id = (contact.external_ids or {}).get(SYSTEM)
    if not chatwoot_id:
        found = client.find_contact_by_phone(contact.phone) if contact.phone else None
        if found is None:
            return "The contact is not in Chatwoot."
        chatwoot_id = str(found["id"])
        do_link_external_ids(contact.pk, {SYSTEM: chatwoot_id})
    client.update_contact(chatwoot_id, custom_attributes=attributes)
    cache.set(_pushed_key(inbox.pk, contact.pk), fingerprint, timeout=PUSHED_TTL)
    return f"Pushed {len(attributes)} attributes to Chatwoot contact {chatwoot_id}."

"""The Chatwoot bridge's background work: attribute pushes after their debounce."""

from celery import shared_task

from contacts.models import Contact
from inbox.models import Inbox
from inbox.providers.base import ProviderError

__all__ = ["push_contact_attributes_task"]

MAX_RETRIES = 6


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def push_contact_attributes_task(self, inbox_id: int, contact_id: int) -> str:
    """Push one contact's attributes; retried with backoff while Chatwoot is down or rate
    limiting, given up on for a refusal (bad credentials, unknown contact)."""
    from inbox.providers.chatwoot.attributes import do_push_contact_attributes

    inbox = Inbox.objects.filter(pk=inbox_id, is_active=True).first()
    contact = Contact.objects.filter(pk=contact_id).first()
    if inbox is None or contact is None or contact.tenant_id != inbox.tenant_id:
        return "The inbox or the contact is gone."
    try:
        return do_push_contact_attributes(inbox, contact)
    except ProviderError as exc:
        if exc.permanent:
            return f"Chatwoot refused the attributes: {exc.message}"
        raise self.retry(
            exc=exc, countdown=exc.retry_after or 2 ** (self.request.retries + 2)
        ) from exc

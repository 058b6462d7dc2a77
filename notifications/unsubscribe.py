"""One-click unsubscribe: a signed link per contact, channel and sender, served by us, that
records the opt-out (the same Consent rows STOP replies write)."""

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from contacts.actions import do_set_consent
from contacts.models import Consent, Contact

SALT = "centro.notifications.unsubscribe"


class BadUnsubscribeLink(Exception):
    pass


def unsubscribe_token(contact: Contact, *, channel: str, sender: str) -> str:
    return signing.dumps(
        {"t": contact.tenant_id, "c": contact.pk, "ch": channel, "s": sender},
        salt=SALT,
        compress=True,
    )


def unsubscribe_url(contact: Contact, *, channel: str, sender: str) -> str:
    token = unsubscribe_token(contact, channel=channel, sender=sender)
    return settings.PUBLIC_BASE_URL + reverse("notifications-unsubscribe", args=[token])


def read_token(token: str) -> tuple[Contact, str, str]:
    """The contact, channel and sender a link was made for; BadUnsubscribeLink when it was
    tampered with or its contact is gone."""
    try:
        values = signing.loads(token, salt=SALT)
        contact = Contact.objects.filter(
            pk=int(values["c"]), tenant_id=int(values["t"]), erased_at__isnull=True
        ).first()
        channel, sender = str(values["ch"]), str(values["s"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise BadUnsubscribeLink("This unsubscribe link is not valid.") from None
    if contact is None:
        raise BadUnsubscribeLink("This unsubscribe link is no longer valid.")
    return contact, channel, sender


@transaction.atomic
def do_unsubscribe(token: str) -> Consent:
    contact, channel, sender = read_token(token)
    return do_set_consent(
        contact,
        channel=channel,
        sender=sender,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.UNSUBSCRIBE_LINK,
        detail="One-click unsubscribe link",
    )

"""What the contacts app tells connected systems about a contact (``contacts.hooks``): where
to open it in Centro, and which of the tenant's senders it opted out of."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from contacts.models import Consent, Contact
from omnichannel.channels import Channel


def contact_attributes(contact: Contact) -> dict[str, Any]:
    """``centro_url`` and ``centro_opt_outs`` (the channels, by name, with an opt-out from at
    least one sender; None when there is none)."""
    channels = sorted(
        set(
            Consent.objects.filter(
                tenant_id=contact.tenant_id, contact=contact, status=Consent.Status.OPTED_OUT
            ).values_list("channel", flat=True)
        )
    )
    labels = dict(Channel.choices)
    path = reverse("contacts:detail", args=[contact.pk])
    return {
        "centro_url": settings.PUBLIC_BASE_URL.rstrip("/") + path,
        "centro_opt_outs": ", ".join(str(labels.get(c, c)) for c in channels) or None,
    }

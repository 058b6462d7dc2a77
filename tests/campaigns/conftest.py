"""Campaign fixtures: a tenant's SMS inbox on the fake Twilio, a template, an audience."""

import pytest

from campaigns.lifecycle import do_save_campaign
from campaigns.services import do_save_template
from contacts.lists import add_members, do_create_list
from contacts.models import Contact
from omnichannel.channels import Channel
from tests.inbox.bluebubbles_helpers import bb_server  # noqa: F401  (fixture)
from tests.inbox.conftest import fake_twilio, twilio_inbox  # noqa: F401  (fixtures)


def make_contacts(tenant, count: int, *, start: int = 0, **fields) -> list[Contact]:
    return Contact.objects.bulk_create(
        [
            Contact(
                tenant=tenant,
                first_name=f"Person{start + i}",
                name=f"Person{start + i}",
                phone=f"+14152{start + i:06d}",
                **fields,
            )
            for i in range(count)
        ]
    )


@pytest.fixture
def sms_inbox(tenant, twilio_inbox):  # noqa: F811
    """An SMS inbox whose sender may send 1,000 messages a second (tests set slower paces)."""
    return twilio_inbox(tenant, kind=Channel.SMS, messages_per_second=1000)


@pytest.fixture
def sms_template(tenant):
    return do_save_template(
        tenant, name="Hello", channel=Channel.SMS, body='Hi {{firstName|default:"friend"}}!'
    )


@pytest.fixture
def audience(tenant):
    """``audience(n)``: a list of ``n`` new contacts."""

    def make(count: int, *, name: str = "Audience", start: int = 0, **fields):
        contact_list = do_create_list(tenant, name=name)
        contacts = make_contacts(tenant, count, start=start, **fields)
        add_members(contact_list, [c.pk for c in contacts])
        return contact_list

    return make


@pytest.fixture
def make_campaign(tenant, sms_inbox, sms_template):
    """``make_campaign(lists=[...], **fields)``: a draft, quiet hours off unless asked."""

    def make(*, lists=(), segments=(), inbox=None, template=None, **fields):
        data = {
            "name": fields.pop("name", "Winter sale"),
            "inbox": (inbox or sms_inbox).pk,
            "template": (template or sms_template).pk,
            "lists": [lst.pk for lst in lists],
            "segments": [seg.pk for seg in segments],
            "quiet_hours": fields.pop("quiet_hours", False),
            **fields,
        }
        return do_save_campaign(tenant, data)

    return make

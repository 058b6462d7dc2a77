import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from contacts.models import Consent, Contact
from inbox.models import Attachment, Conversation, Delivery, Inbox, Message
from omnichannel.models import WebhookEvent

pytestmark = pytest.mark.django_db
AUTH_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"


@pytest.fixture
def staff_client(db) -> Client:
    user = get_user_model().objects.create_superuser("staff", "staff@centro.test", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rows(tenant) -> dict:
    inbox = Inbox(tenant=tenant, name="SMS", kind="sms", provider="twilio", address="+14155550100")
    inbox.set_credentials({"account_sid": "AC" + "0" * 32, "auth_token": AUTH_TOKEN})
    inbox.save()
    contact = Contact.objects.create(tenant=tenant, name="Ana", phone="+14155550111")
    Consent.objects.create(
        tenant=tenant, contact=contact, channel="sms", sender=inbox.address,
        status="opted_out", source="keyword",
    )  # fmt: skip
    conversation = Conversation.objects.create(tenant=tenant, inbox=inbox, contact=contact)
    message = Message.objects.create(
        tenant=tenant, conversation=conversation, inbox=inbox, direction="out",
        sender_type="agent", body="Hola", status="sent",
    )  # fmt: skip
    delivery = Delivery.objects.create(
        tenant=tenant, message=message, inbox=inbox, provider="twilio",
        recipient=contact.phone, status="sent", provider_message_id="SM" + "1" * 32,
    )  # fmt: skip
    attachment = Attachment.objects.create(tenant=tenant, message=message, content_type="image/png")
    event = WebhookEvent.objects.create(
        tenant=tenant, inbox=inbox, provider="twilio", kind="inbound", url="/x", body="a=b"
    )
    return {
        Inbox: inbox,
        Contact: contact,
        Conversation: conversation,
        Message: message,
        Delivery: delivery,
        Attachment: attachment,
        WebhookEvent: event,
    }


@pytest.mark.parametrize("model", [Inbox, Contact, Conversation, Message, Attachment, WebhookEvent])
def test_it_loads_the_changelist_and_change_pages(staff_client, rows, model):
    opts = model._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    assert staff_client.get(base).status_code == 200
    page = staff_client.get(f"{base}{rows[model].pk}/change/")
    assert page.status_code == 200
    assert AUTH_TOKEN not in page.content.decode()


def test_it_never_shows_inbox_credentials_in_plaintext(staff_client, rows):
    page = staff_client.get(f"/admin/inbox/inbox/{rows[Inbox].pk}/change/").content.decode()
    assert AUTH_TOKEN not in page
    assert "Stored encrypted" in page


def test_it_keeps_the_journal_and_messages_read_only(staff_client, rows):
    assert staff_client.get("/admin/omnichannel/webhookevent/add/").status_code == 403
    response = staff_client.post(
        f"/admin/inbox/message/{rows[Message].pk}/change/", {"body": "changed"}
    )
    assert response.status_code == 403
    rows[Message].refresh_from_db()
    assert rows[Message].body == "Hola"


def test_it_audits_a_credential_change_made_in_the_admin(staff_client, rows):
    from omnichannel.models import AuditEvent

    inbox = rows[Inbox]
    url = f"/admin/inbox/inbox/{inbox.pk}/change/"
    form = {
        "tenant": inbox.tenant_id,
        "name": inbox.name,
        "kind": inbox.kind,
        "provider": inbox.provider,
        "address": inbox.address,
        "credentials": '{"account_sid": "AC' + "2" * 32 + '", "auth_token": "new-token"}',
        "settings": "{}",
        "is_active": "on",
    }
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    inbox.refresh_from_db()
    assert inbox.get_credentials()["auth_token"] == "new-token"
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIAL_CHANGED)
    assert event.tenant == inbox.tenant and event.data == {"via": "admin"}

    form["credentials"] = ""  # blank keeps the stored value: no new audit row
    assert staff_client.post(url, form).status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CREDENTIAL_CHANGED).count() == 1

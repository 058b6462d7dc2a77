"""GDPR erasure leaves nothing: one person goes through every feature (CSV imports, SMS and
WhatsApp through signed Twilio webhooks and sends through the fake Twilio, email in through a
Postmark webhook and out through the fake Postmark, attachments, a campaign, a lifecycle event,
a merge of their duplicate, an audited export) and is erased; then every text, varchar and
JSON column of every table, the cache in Redis and the stored files are searched for them."""

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign, do_save_campaign
from campaigns.models import CampaignRecipient
from campaigns.services import do_save_template
from contacts.lists import add_members, do_create_list
from contacts.models import Contact, ImportJob
from inbox.actions.send import do_send_message
from inbox.models import Attachment, Conversation, Delivery, Message
from inbox.tasks.delivery import deliver_message_task
from notifications.models import Notification
from notifications.sending import sweep_due_notifications
from omnichannel.api import idempotency_cache_key
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent, WebhookEvent
from tests.contacts.test_import_support import csv_bytes, import_now
from tests.inbox.conftest import (  # noqa: F401  (fixtures)
    fake_postmark,
    fake_twilio,
    make_email_inbox,
    twilio_inbox,
)
from tests.inbox.email_webhook_helpers import load, post_postmark, set_header
from tests.inbox.webhook_helpers import post_twilio

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

FIRST, LAST = "Xiomarette", "Quorvexa"
PHONE, NATIONAL = "+14155557319", "4155557319"
WORK_PHONE = "+14155557388"  # their duplicate's number, merged into them
EMAIL = "xiomarette.quorvexa@example.org"
IDEMPOTENCY_KEY = "send-to-xiomarette-1"
PHOTO = b"\xff\xd8\xff\xe0" + b"jpeg bytes " * 50
# Their names, numbers (E.164, national digits, national formats) and email, in any case.
FOUND = re.compile(
    r"xiomarette|quorvexa|4155557319|415\D{0,3}555\D{0,3}7319|4155557388|415\D{0,3}555\D{0,3}7388",
    re.IGNORECASE,
)
SQL_PATTERN = FOUND.pattern.replace(r"\D", "[^0-9]")


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def api(token: str, method: str, path: str, body: dict | None = None, **headers):
    client = Client(headers={"Authorization": f"Bearer {token}", **headers})
    call = getattr(client, method)
    if body is None:
        return call(f"/api/v1{path}")
    return call(f"/api/v1{path}", data=json.dumps(body), content_type="application/json")


def deliver(message: Message) -> Delivery:
    delivery = message.deliveries.get()
    deliver_message_task.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Message.Status.SENT, delivery.error_message
    return delivery


def their_contact(tenant) -> Contact:
    return Contact.objects.get(tenant=tenant, phones__number=PHONE)


@pytest.fixture
def lived_everything(
    tenant,
    owner,
    api_token,
    twilio_inbox,  # noqa: F811
    fake_twilio,  # noqa: F811
    fake_postmark,  # noqa: F811
    media_root,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    """The person, after using every feature; returns their contact."""
    sms = twilio_inbox(tenant, kind=Channel.SMS, messages_per_second=1000)
    whatsapp = twilio_inbox(tenant, kind=Channel.WHATSAPP)
    email = make_email_inbox(
        tenant, esp="postmark", server_token=fake_postmark.server_token, api_url=fake_postmark.url
    )

    # 1. A CSV import creates them; a second one updates them and reports their bad email.
    import_now(
        tenant,
        csv_bytes(
            [
                ["First name", "Last name", "Phone", "Email", "City"],
                [FIRST, LAST, "(415) 555-7319", "Xiomarette.Quorvexa@Example.org", "Valparaíso"],
                ["Bob", "Other", "(415) 555-0199", "bob@example.net", "Lima"],
            ]
        ),
        user=owner,
    )
    second = import_now(
        tenant,
        csv_bytes(
            [
                ["Phone", "Email", "City"],
                ["415.555.7319", "xiomarette.quorvexa@@example", "Viña del Mar"],
                ["(415) 555-0199", "bob@example.net", "Cusco"],
            ]
        ),
        user=owner,
    )
    assert (second.error_count, second.warning_count) == (0, 1)  # their bad email
    contact = their_contact(tenant)
    assert contact.name == f"{FIRST} {LAST}"

    with django_capture_on_commit_callbacks(execute=True):
        # 2. They text the SMS number and send a photo on WhatsApp (fetched from Twilio).
        response = post_twilio(
            sms,
            "inbound_sms",
            From=PHONE,
            To=sms.address,
            Body=f"Hola, soy {FIRST} {LAST}",
            MessageSid="SM" + "7" * 32,
            SmsSid="SM" + "7" * 32,
            SmsMessageSid="SM" + "7" * 32,
        )
        assert response.status_code == 200
        media_url = fake_twilio.add_media(whatsapp.get_credentials()["account_sid"], PHOTO)
        response = post_twilio(
            whatsapp,
            "inbound_whatsapp_media",
            From=f"whatsapp:{PHONE}",
            To=f"whatsapp:{whatsapp.address}",
            WaId=PHONE[1:],
            ProfileName=f"{FIRST} Q",
            Body=f"Mi pasaporte, {FIRST}",
            MediaUrl0=media_url,
        )
        assert response.status_code == 200

        # 3. Their work number writes on WhatsApp too: a duplicate contact, merged into them.
        response = post_twilio(
            whatsapp,
            "inbound_whatsapp_media",
            From=f"whatsapp:{WORK_PHONE}",
            To=f"whatsapp:{whatsapp.address}",
            WaId=WORK_PHONE[1:],
            ProfileName=f"{FIRST} {LAST} (work)",
            Body="Escribo desde el trabajo",
            NumMedia="0",
            MediaUrl0="",
            MediaContentType0="",
            MessageSid="SM" + "8" * 32,
            SmsSid="SM" + "8" * 32,
            SmsMessageSid="SM" + "8" * 32,
        )
        assert response.status_code == 200
        duplicate = Contact.objects.get(tenant=tenant, phone=WORK_PHONE)
        response = api(
            api_token, "post", f"/contacts/{contact.pk}/merge", {"duplicate_id": duplicate.pk}
        )
        assert response.status_code == 200, response.content

        # 4. Replies: an SMS through the API (with an Idempotency-Key), a WhatsApp answer.
        response = api(
            api_token,
            "post",
            "/messages",
            {"channel": "sms", "to": PHONE, "body": f"Hola {FIRST}, tu reserva está lista"},
            **{"Idempotency-Key": IDEMPOTENCY_KEY},
        )
        assert response.status_code == 201, response.content
    sms_sid = deliver(Message.objects.get(pk=response.json()["id"])).provider_message_id
    whatsapp_conversation = Conversation.objects.get(
        contact=contact, inbox=whatsapp, status__in=Conversation.ACTIVE
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply = do_send_message(
            tenant,
            conversation=whatsapp_conversation,
            body=f"Gracias {FIRST}, recibido",
            acting_user=owner,
        )
    whatsapp_sid = deliver(reply).provider_message_id

    # 5. Twilio's status callbacks, and one for a message sent outside Centro.
    for inbox, fixture, sid, to in (
        (sms, "status_delivered", sms_sid, PHONE),
        (whatsapp, "status_whatsapp_read", whatsapp_sid, f"whatsapp:{PHONE}"),
        (sms, "status_delivered", "SM" + "9" * 32, PHONE),
    ):
        response = post_twilio(inbox, fixture, MessageSid=sid, SmsSid=sid, To=to)
        assert response.status_code == 204, response.content

    # 6. Email: they write with an attachment; we answer; Postmark reports the delivery.
    payload = load("postmark", "inbound")
    payload.update(
        FromName=f"{FIRST} {LAST}",
        From=EMAIL,
        FromFull={"Email": EMAIL, "Name": f"{FIRST} {LAST}", "MailboxHash": ""},
        Subject=f"Viaje de {FIRST}",
        TextBody=f"Hola,\n\nadjunto mi pasaporte.\n\n{FIRST} {LAST}\n{PHONE}",
        HtmlBody=f"<p>Hola,</p><p>adjunto mi pasaporte.</p><p>{FIRST} {LAST}</p>",
        StrippedTextReply="",
    )
    set_header(payload, "Return-Path", f"<{EMAIL}>")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_postmark(email, "inbound", payload).status_code == 200
    inbound_email = Message.objects.get(inbox=email, direction="in")
    assert inbound_email.conversation.contact_id == contact.pk
    assert Attachment.objects.filter(message=inbound_email, status="stored").exists()
    with django_capture_on_commit_callbacks(execute=True):
        sent_email = do_send_message(
            tenant,
            conversation=inbound_email.conversation,
            body=f"Dear {FIRST} {LAST}, thank you.",
            acting_user=owner,
        )
    email_id = deliver(sent_email).provider_message_id
    for name, extra in (
        ("tracking_delivery", {"Recipient": EMAIL}),
        ("tracking_bounce", {"Email": EMAIL}),
    ):
        tracking = {**load("postmark", name), "MessageID": email_id, **extra}
        assert post_postmark(email, name, tracking).status_code == 200

    # 7. A campaign reaches them.
    template = do_save_template(
        tenant, name="Hello", channel=Channel.SMS, body="Hi {{firstName}}, 20% off for you!"
    )
    audience = do_create_list(tenant, name="Audience")
    add_members(audience, [contact.pk])
    campaign = do_launch_campaign(
        do_save_campaign(
            tenant,
            {
                "name": "Winter sale",
                "inbox": sms.pk,
                "template": template.pk,
                "lists": [audience.pk],
                "segments": [],
                "quiet_hours": False,
            },
        )
    )
    assert engine.work(campaign.pk, seconds=30) == "finished"
    campaign.refresh_from_db()
    assert campaign.sent == 1

    # 8. A lifecycle event: a confirmation now, reminders later.
    trip = (timezone.now() + dt.timedelta(days=60)).date()
    response = api(
        api_token,
        "post",
        "/events",
        {
            "type": "booking.confirmed",
            "contact": {"phone": PHONE},
            "data": {
                "booking_id": "B-100",
                "destination": "Cancún",
                "traveller": f"{FIRST} {LAST}",
                "trip_date": trip.isoformat(),
                "return_date": (trip + dt.timedelta(days=7)).isoformat(),
            },
            "idempotency_key": f"booking-{FIRST}-{LAST}".lower(),
        },
    )
    assert response.status_code == 201, response.content
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_due_notifications() == {"sent": 1}
    notified = Message.objects.filter(metadata__has_key="notification_id").get()
    deliver(notified)

    # 9. An export (audited).
    assert api(api_token, "get", f"/contacts/{contact.pk}/export").status_code == 200
    contact.refresh_from_db()
    return contact


def text_columns() -> list[tuple[str, str]]:
    """(table, column) of every text, varchar and JSON column of every table."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
              AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
            ORDER BY c.table_name, c.column_name
            """
        )
        return cursor.fetchall()


def database_hits() -> dict[str, list[str]]:
    """``table.column`` -> a few of the values that name the person."""
    hits = {}
    with connection.cursor() as cursor:
        for table, column in text_columns():
            cursor.execute(
                f'SELECT "{column}"::text FROM "{table}" WHERE "{column}"::text ~* %s LIMIT 3',  # noqa: S608
                [SQL_PATTERN],
            )
            found = [row[0] for row in cursor.fetchall()]
            if found:
                hits[f"{table}.{column}"] = [
                    FOUND.search(v).group(0) + ": " + v[:160] for v in found
                ]
    return hits


def redis_hits() -> list[str]:
    """Cache keys (of this test run's prefix) whose name or value names the person."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = cache._cache.get_client(write=True)
    found = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        kind = client.type(key).decode()
        parts = {
            "string": lambda k: [client.get(k)],
            "hash": lambda k: [b for pair in client.hgetall(k).items() for b in pair],
            "list": lambda k: client.lrange(k, 0, -1),
            "set": lambda k: list(client.smembers(k)),
            "zset": lambda k: client.zrange(k, 0, -1),
        }.get(kind, lambda k: [])(key)
        text = b" ".join([key, *(p or b"" for p in parts)]).decode("latin-1")
        if FOUND.search(text):
            found.append(key.decode(errors="replace"))
    return found


def file_hits(root: Path) -> list[str]:
    """Stored files that still hold the person (any encoding the CSV reader accepts)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for encoding in ("utf-8", "utf-16", "latin-1"):
                try:
                    text = data.decode(encoding)
                except UnicodeDecodeError:
                    continue
                if FOUND.search(text):
                    found.append(str(path.relative_to(root)))
                    break
    return found


def test_the_scenario_stored_the_person_everywhere_the_scan_looks(lived_everything, media_root):
    """The scan can fail: before the erasure it finds the person in every app's tables."""
    hits = database_hits()
    for column in (
        "contacts_contact.name",
        "inbox_message.body",
        "inbox_webhookevent.body",
        "campaigns_campaignrecipient.body",
        "notifications_event.data",
        "omnichannel_auditevent.target_repr",
    ):
        assert column in hits, column
    assert cache.get(idempotency_cache_key(lived_everything.tenant_id, "inbox", IDEMPOTENCY_KEY))
    assert file_hits(media_root)


def test_erasure_leaves_nothing_in_the_database_the_cache_or_the_files(
    lived_everything, api_token, media_root, django_capture_on_commit_callbacks
):
    contact = lived_everything
    messages_before = Message.objects.filter(conversation__contact=contact).count()
    journal_before = WebhookEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        response = api(api_token, "post", f"/contacts/{contact.pk}/erase", {})
    assert response.status_code == 200, response.content

    left = [f"{column}: {values}" for column, values in sorted(database_hits().items())]
    left += [f"redis key {key}" for key in redis_hits()]
    if cache.get(idempotency_cache_key(contact.tenant_id, "inbox", IDEMPOTENCY_KEY)) is not None:
        left.append(f"redis: the Idempotency-Key {IDEMPOTENCY_KEY!r} still maps to their message")
    left += [f"file {path}" for path in file_hits(media_root)]
    print("\n".join(left))
    assert left == [], "still found in:\n" + "\n".join(left)
    assert not Attachment.objects.filter(message__conversation__contact=contact).exists()
    # The rows stay, so counts and reports still add up; only what they said about them goes.
    assert Message.objects.filter(conversation__contact=contact).count() == messages_before
    assert WebhookEvent.objects.count() == journal_before
    outside = WebhookEvent.objects.get(external_id="SM" + "9" * 32)
    assert (outside.body, outside.state) == ("", "invalid")  # was deferred: never processed
    recipient = CampaignRecipient.objects.get(contact=contact)
    assert (recipient.status, recipient.campaign.sent, recipient.campaign.total) == ("sent", 1, 1)
    statuses = sorted(Notification.objects.filter(contact=contact).values_list("status", flat=True))
    assert statuses == ["cancelled"] * 4 + ["sent"]
    merge = AuditEvent.objects.get(action="contact.merged")
    assert merge.target_repr == f"Contact {contact.pk}"
    assert merge.data["merged_contact"] == f"Contact {merge.data['merged_contact_id']}"
    erased = AuditEvent.objects.get(action="contact.erased")
    assert erased.data["messages_redacted"] > 0 and erased.data["import_rows_erased"] == 2
    for job in ImportJob.objects.filter(tenant=contact.tenant).order_by("id"):
        rows = list(csv.reader(io.StringIO(job.file.read().decode(), newline="")))
        assert len(rows) == 3 and rows[1] == [""] * len(rows[0])  # their row, blank
        assert "bob@example.net" in rows[2]
    # Their bad email was left out of the second import with a warning: that goes too.
    assert "[erased]" in json.dumps(ImportJob.objects.order_by("id").last().warnings)


def test_the_export_holds_what_every_feature_stored_about_them(lived_everything, api_token):
    contact = lived_everything
    response = api(api_token, "get", f"/contacts/{contact.pk}/export")
    assert response.status_code == 200
    data = response.json()

    assert {p["number"] for p in data["phones"]} == {PHONE, WORK_PHONE}
    bodies = [m["body"] for c in data["conversations"] for m in c["messages"]]
    assert f"Hola, soy {FIRST} {LAST}" in bodies and f"Dear {FIRST} {LAST}, thank you." in bodies
    assert f"Hi {FIRST}, 20% off for you!" in bodies  # the campaign's, in its conversation
    attachments = [
        a for c in data["conversations"] for m in c["messages"] for a in m["attachments"]
    ]
    assert {a["filename"] for a in attachments} >= {"passport scan.pdf"}
    journal = {(e["provider"], e["kind"]): e for e in data["webhook_journal"]}
    assert EMAIL in journal[("anymail", "inbound")]["body"]
    outside = [e for e in data["webhook_journal"] if "SM" + "9" * 32 in e["body"]]
    assert len(outside) == 1 and NATIONAL in outside[0]["body"]
    # Every request of the scenario: 3 Twilio inbound, 3 Twilio statuses, 3 Postmark.
    assert len(data["webhook_journal"]) == WebhookEvent.objects.count() == 9
    [sent] = data["campaign_messages"]
    assert (sent["body"], sent["address"], sent["status"]) == (
        f"Hi {FIRST}, 20% off for you!",
        PHONE,
        "sent",
    )
    [event] = data["lifecycle_events"]
    assert event["type"] == "booking.confirmed" and event["data"]["traveller"] == f"{FIRST} {LAST}"
    assert sorted(n["status"] for n in data["notifications"]) == ["scheduled"] * 4 + ["sent"]
    rows = [row for job in data["imports"] for row in job["rows"]]
    assert [row["row"] for row in rows] == [2, 2]
    assert rows[0]["values"]["First name"] == FIRST and rows[1]["values"]["Phone"] == "415.555.7319"
    actions = {entry["action"] for entry in data["audit"]}
    assert {"contact.merged", "data.exported"} <= actions

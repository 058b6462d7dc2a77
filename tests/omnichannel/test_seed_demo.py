import json
from io import StringIO

import pytest
from django.core.management import call_command

from omnichannel.models import Membership, Tenant

pytestmark = pytest.mark.django_db


def seed() -> dict:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return json.loads(out.getvalue())


def test_it_seeds_the_demo_tenant_once(client, django_capture_on_commit_callbacks):
    first = seed()
    second = seed()
    assert first["created"] is True
    assert second == first | {"created": False}
    assert Tenant.objects.filter(slug="demo-travel").count() == 1
    roles = dict(
        Membership.objects.filter(tenant_id=first["tenant_id"]).values_list(
            "user__email", "role__builtin"
        )
    )
    assert roles == {
        "demo@centro.local": "owner",
        "supervisor@centro.local": "supervisor",
        "agent@centro.local": "agent",
        "viewer@centro.local": "viewer",
    }
    from inbox.models import Conversation, Inbox
    from inbox.providers import webhook_url

    inboxes = Inbox.objects.filter(tenant_id=first["tenant_id"])
    assert sorted(inboxes.values_list("kind", flat=True)) == [
        "chatwoot",
        "imessage",
        "sms",
        "whatsapp",
        "whatsapp",
    ]
    assert all("simulator" in inbox.name and inbox.settings["simulator"] for inbox in inboxes)
    conversations = Conversation.objects.filter(tenant_id=first["tenant_id"])
    assert conversations.count() == 3
    # The SMS line is answered round robin by the front desk: its conversation has an agent.
    sms = conversations.get(inbox__kind="sms")
    assert sms.assignee is not None and sms.team.name == "Front desk"
    lucia = conversations.get(inbox__kind="whatsapp").contact
    assert (lucia.name, lucia.attributes) == ("Lucía Gómez", {"plan": "gold", "trips": 3})
    assert lucia.household.get().name == "Pablo Gómez"
    # iMessage on the BlueBubbles simulator, falling back to the SMS line; `make run` hands the
    # simulator the inbox's webhook URL from the command's output.
    imessage = inboxes.get(kind="imessage")
    assert (imessage.name, imessage.provider) == ("Demo iMessage (simulator)", "bluebubbles")
    assert imessage.fallback_inbox == sms.inbox
    assert imessage.get_credentials()["server_url"] == "http://127.0.0.1:8766"
    assert first["inboxes"]["imessage"] == imessage.pk
    assert first["bluebubbles_webhook_url"] == webhook_url(imessage, "events")
    chat = conversations.get(inbox=imessage)
    assert chat.external_thread_id == "iMessage;-;+14155550123"
    assert chat.messages.get().metadata["service"] == "iMessage"
    # WhatsApp through the Evolution simulator: paired on its channel page, no conversation yet.
    gateway = inboxes.get(provider="evolution")
    assert gateway.name == "Demo WhatsApp (Evolution simulator)"
    credentials = gateway.get_credentials()
    assert credentials["instance_url"] == "http://127.0.0.1:8767"
    assert credentials["webhook_secret"] and first["inboxes"]["evolution"] == gateway.pk
    # Chatwoot on its simulator: notifications may go through it; `make run` hands the
    # simulator the inbox's webhook URL and secret from the command's output.
    bridge = inboxes.get(provider="chatwoot")
    assert (bridge.name, bridge.address) == ("Demo Chatwoot (simulator)", "127.0.0.1:8768#1/7")
    assert bridge.option("notify", False) is True
    assert first["chatwoot_webhook_url"] == webhook_url(bridge, "events")
    assert bridge.get_credentials()["webhook_secret"]
    assert bridge.get_credentials()["webhook_secret"] not in json.dumps(first)
    response = client.post(
        "/accounts/login/", {"login": "demo@centro.local", "password": "centro-demo"}
    )
    assert response.status_code == 302


def test_it_points_the_demo_inboxes_at_the_current_simulator(monkeypatch):
    from inbox.models import Inbox

    seed()
    monkeypatch.setenv("DEMO_TWILIO_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("DEMO_BLUEBUBBLES_URL", "http://127.0.0.1:9998")
    monkeypatch.setenv("DEMO_EVOLUTION_URL", "http://127.0.0.1:9997")
    monkeypatch.setenv("DEMO_CHATWOOT_URL", "http://127.0.0.1:9996")
    monkeypatch.setenv("DEMO_CHATWOOT_WEBHOOK_SECRET", "secret-of-this-run")
    output = seed()
    twilio = Inbox.objects.filter(provider="twilio")
    assert set(twilio.values_list("settings__api_base_url", flat=True)) == {"http://127.0.0.1:9999"}
    imessage = Inbox.objects.get(provider="bluebubbles")
    assert imessage.get_credentials()["server_url"] == "http://127.0.0.1:9998"
    assert output["bluebubbles_simulator"] == "http://127.0.0.1:9998"
    gateway = Inbox.objects.get(provider="evolution")
    assert gateway.get_credentials()["instance_url"] == "http://127.0.0.1:9997"
    assert output["evolution_simulator"] == "http://127.0.0.1:9997"
    bridge = Inbox.objects.get(provider="chatwoot")
    assert bridge.get_credentials()["api_url"] == "http://127.0.0.1:9996"
    assert bridge.address == "127.0.0.1:9996#1/7"
    assert bridge.get_credentials()["webhook_secret"] == "secret-of-this-run"
    assert output["chatwoot_simulator"] == "http://127.0.0.1:9996"


def test_it_runs_every_apps_demo_step_and_only_the_refreshing_ones_again():
    from campaigns.models import Campaign
    from notifications.models import EventType, NotificationRule, NotificationTemplate

    tenant_id = seed()["tenant_id"]
    for model in (NotificationRule, NotificationTemplate, EventType):
        model.objects.filter(tenant_id=tenant_id).delete()
    seed()
    campaign = Campaign.objects.get(tenant_id=tenant_id)
    assert (campaign.name, campaign.inbox.kind) == ("Winter offers (demo)", "sms")
    assert list(campaign.lists.values_list("name", flat=True)) == ["Newsletter"]
    # The lifecycle notifications are installed again at every run: an older tenant gets them.
    assert NotificationTemplate.objects.filter(tenant_id=tenant_id).count() == 24


def test_a_demo_tenant_seeded_before_the_imessage_inbox_gets_it_with_its_conversation():
    from inbox.models import Conversation, Inbox, Message

    tenant_id = seed()["tenant_id"]
    # As a demo database from before the iMessage inbox was part of the demo.
    Message.objects.filter(inbox__provider="bluebubbles").delete()
    Conversation.objects.filter(inbox__provider="bluebubbles").delete()
    Inbox.objects.filter(provider="bluebubbles").delete()

    second = seed()

    assert second["created"] is False
    imessage = Inbox.objects.get(tenant_id=tenant_id, provider="bluebubbles")
    assert second["inboxes"]["imessage"] == imessage.pk
    assert Conversation.objects.filter(inbox=imessage).count() == 1

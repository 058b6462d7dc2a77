"""The inbox's part of the demo tenant (``manage.py seed_demo``, steps registered in
``InboxConfig.ready``): two inboxes on the local Twilio simulator, an iMessage inbox on the
local BlueBubbles simulator that falls back to the SMS one, a front-desk team that answers the
SMS line round robin, a WhatsApp inbox on the local Evolution API simulator (paired by its QR
code on its channel page), a Chatwoot inbox on the local Chatwoot simulator (notifications and
campaigns may go through it), and a conversation on each inbox."""

import os
import secrets

from django.utils import timezone

from inbox.actions.inboxes import do_create_inbox, do_update_inbox, do_update_inbox_credentials
from inbox.actions.receive import do_receive_message
from inbox.actions.teams import do_add_team_member, do_configure_inbox_assignment, do_create_team
from inbox.models import Inbox
from inbox.providers import MessageReceived, get_provider, provider_class, webhook_url
from inbox.providers.bluebubbles import simulator as bluebubbles
from inbox.providers.chatwoot import simulator as chatwoot
from inbox.providers.evolution import simulator as evolution
from omnichannel.demo import DemoSeed
from omnichannel.models import Membership

# Twilio's documented test numbers; the inboxes talk to the local simulator, never to Twilio.
DEMO_INBOXES = [
    ("sms", "Demo SMS (simulator)", "+15005550006"),
    ("whatsapp", "Demo WhatsApp (simulator)", "+15005550007"),
]
DEMO_CUSTOMERS = [
    ("sms", "+525512345678", "", "Hola, ¿tienen disponibilidad para el viaje a Oaxaca en marzo?"),
    ("whatsapp", "+34612345678", "Lucía Gómez", "Hi! Can I change the date of my booking?"),
]
DEMO_IMESSAGE = ("Demo iMessage (simulator)", "+15005550008")
DEMO_EVOLUTION = ("Demo WhatsApp (Evolution simulator)", "+15005550009")
DEMO_CHATWOOT = "Demo Chatwoot (simulator)"
DEMO_IMESSAGE_CUSTOMER = ("+14155550123", "Hi! Is the Oaxaca trip on March 14 still on?")


def seed_demo_inboxes(seed: DemoSeed) -> None:
    """Create the inboxes once; at every run point them at ``DEMO_TWILIO_URL`` (the simulator
    may listen elsewhere than last time)."""
    simulator = os.environ.get("DEMO_TWILIO_URL", "http://127.0.0.1:8765")
    inboxes = {}
    for kind, name, address in DEMO_INBOXES:
        inbox = Inbox.objects.for_tenant(seed.tenant).filter(kind=kind, address=address).first()
        if inbox is None:
            inbox = do_create_inbox(
                seed.tenant,
                name=name,
                kind=kind,
                provider="twilio",
                address=address,
                credentials={
                    "account_sid": "AC" + secrets.token_hex(16),
                    "auth_token": secrets.token_hex(16),
                },
                settings={"api_base_url": simulator, "simulator": True},
            )
        elif inbox.settings.get("api_base_url") != simulator:
            inbox.settings["api_base_url"] = simulator
            inbox.save(update_fields=["settings"])
        inboxes[kind] = inbox
    inboxes["imessage"] = _seed_imessage_inbox(seed, fallback=inboxes["sms"])
    inboxes["evolution"] = _seed_evolution_inbox(seed)
    inboxes["chatwoot"] = _seed_chatwoot_inbox(seed)
    seed.shared["inboxes"] = inboxes
    seed.output["inboxes"] = {kind: inbox.pk for kind, inbox in inboxes.items()}
    seed.output["simulator"] = simulator


def _seed_imessage_inbox(seed: DemoSeed, *, fallback: Inbox) -> Inbox:
    """The iMessage inbox on ``DEMO_BLUEBUBBLES_URL``, re-pointed at every run; the command's
    output names its webhook URL, where ``make run`` tells the simulator to post. Its
    conversation comes with it, so a demo tenant seeded before it existed gets both."""
    server_url = os.environ.get("DEMO_BLUEBUBBLES_URL", "http://127.0.0.1:8766")
    name, address = DEMO_IMESSAGE
    inbox = Inbox.objects.for_tenant(seed.tenant).filter(kind="imessage", address=address).first()
    if inbox is None:
        inbox = do_create_inbox(
            seed.tenant,
            name=name,
            kind="imessage",
            provider="bluebubbles",
            address=address,
            credentials={"server_url": server_url, "password": bluebubbles.PASSWORD},
            settings={"simulator": True},
        )
        do_update_inbox(inbox, fallback_inbox=fallback)
        _seed_imessage_conversation(inbox)
    else:
        do_update_inbox_credentials(inbox, changes={"server_url": server_url})
    seed.output["bluebubbles_simulator"] = server_url
    seed.output["bluebubbles_webhook_url"] = webhook_url(inbox, "events")
    return inbox


def _seed_evolution_inbox(seed: DemoSeed) -> Inbox:
    """The WhatsApp inbox on ``DEMO_EVOLUTION_URL``, re-pointed at every run. "Connect: show
    the QR code" on its channel page registers its webhook with the simulator, which "scans"
    the code a few seconds later and acks every send from then on."""
    instance_url = os.environ.get("DEMO_EVOLUTION_URL", "http://127.0.0.1:8767")
    name, address = DEMO_EVOLUTION
    found = Inbox.objects.for_tenant(seed.tenant).filter(kind="whatsapp", address=address)
    inbox = found.first()
    if inbox is None:
        credentials = {
            "instance_url": instance_url,
            "instance_name": evolution.INSTANCE,
            "api_key": evolution.API_KEY,
        }
        schema = provider_class("evolution").credentials
        inbox = do_create_inbox(
            seed.tenant,
            name=name,
            kind="whatsapp",
            provider="evolution",
            address=address,
            credentials={**credentials, **schema.generate(credentials)},
            settings={"simulator": True},
        )
    else:
        do_update_inbox_credentials(inbox, changes={"instance_url": instance_url})
    seed.output["evolution_simulator"] = instance_url
    return inbox


def _seed_chatwoot_inbox(seed: DemoSeed) -> Inbox:
    """The Chatwoot inbox on ``DEMO_CHATWOOT_URL`` (the simulator's account and inbox),
    re-pointed at every run. The command's output names its webhook URL, which ``make run``
    hands the simulator; the secret that signs the simulator's webhooks is
    ``DEMO_CHATWOOT_WEBHOOK_SECRET`` (``make run`` makes one up for both: never printed)."""
    api_url = os.environ.get("DEMO_CHATWOOT_URL", "http://127.0.0.1:8768")
    secret = os.environ.get("DEMO_CHATWOOT_WEBHOOK_SECRET", "")
    schema = provider_class("chatwoot").credentials
    found = Inbox.objects.for_tenant(seed.tenant).filter(kind="chatwoot", name=DEMO_CHATWOOT)
    inbox = found.first()
    if inbox is None:
        inbox = do_create_inbox(
            seed.tenant,
            name=DEMO_CHATWOOT,
            kind="chatwoot",
            provider="chatwoot",
            address="",
            credentials={
                "api_url": api_url,
                "api_access_token": chatwoot.TOKEN,
                "account_id": str(chatwoot.ACCOUNT_ID),
                "inbox_id": str(chatwoot.INBOX_ID),
                "webhook_secret": secret or secrets.token_urlsafe(24),
                "notify": True,
                "mirror": True,
                "create_contacts": True,
            },
            settings={"simulator": True},
        )
    else:
        changes = {"api_url": api_url, **({"webhook_secret": secret} if secret else {})}
        do_update_inbox_credentials(inbox, changes=changes)
        inbox.refresh_from_db()
        address = schema.default_address(inbox.get_credentials())
        if inbox.address != address:  # the simulator listens on another port
            inbox.address = address
            inbox.save(update_fields=["address"])
    seed.output["chatwoot_simulator"] = api_url
    seed.output["chatwoot_webhook_url"] = webhook_url(inbox, "events")
    return inbox


def seed_demo_team(seed: DemoSeed) -> None:
    """A front-desk team of everyone who may reply, answering the SMS line round robin."""
    team = do_create_team(seed.tenant, name="Front desk", description="Answers the SMS line.")
    for member in Membership.objects.filter(tenant=seed.tenant).select_related("user", "role"):
        if member.has_permission("conversations.reply"):
            do_add_team_member(team, member.user)
    do_configure_inbox_assignment(seed.shared["inboxes"]["sms"], team=team, auto_assign=True)


def seed_demo_conversations(seed: DemoSeed) -> None:
    for kind, phone, profile_name, body in DEMO_CUSTOMERS:
        inbox = seed.shared["inboxes"][kind]
        do_receive_message(
            inbox,
            MessageReceived(
                external_id="SM" + secrets.token_hex(16),
                sender=phone,
                recipient=inbox.address,
                body=body,
                profile_name=profile_name,
                received_at=timezone.now(),
            ),
        )


def _seed_imessage_conversation(inbox: Inbox) -> None:
    phone, body = DEMO_IMESSAGE_CUSTOMER
    # Read the way the provider reads the simulator's webhook, so it is a real iMessage chat.
    payload = bluebubbles.event("new-message", bluebubbles.message_data(text=body, address=phone))
    [received] = get_provider(inbox).parse_payload(payload)
    do_receive_message(inbox, received)

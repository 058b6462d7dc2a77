"""The inbox's part of the demo tenant (``manage.py seed_demo``, steps registered in
``InboxConfig.ready``): two inboxes on the local Twilio simulator, a front-desk team that
answers the SMS line round robin, and a conversation on each inbox."""

import os
import secrets

from django.utils import timezone

from inbox.actions.inboxes import do_create_inbox
from inbox.actions.receive import do_receive_message
from inbox.actions.teams import do_add_team_member, do_configure_inbox_assignment, do_create_team
from inbox.models import Inbox
from inbox.providers import MessageReceived
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
    seed.shared["inboxes"] = inboxes
    seed.output["inboxes"] = {kind: inbox.pk for kind, inbox in inboxes.items()}
    seed.output["simulator"] = simulator


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

"""The campaigns' part of the demo tenant (``manage.py seed_demo``, step registered in
``CampaignsConfig.ready``): a template, a list of every demo contact and a draft campaign ready
to launch (through the simulator SMS inbox, like every demo send)."""

from campaigns.lifecycle import do_save_campaign
from campaigns.services import do_save_template
from contacts.lists import add_members, do_create_list
from contacts.models import Contact
from omnichannel.demo import DemoSeed


def seed_demo_campaign(seed: DemoSeed) -> None:
    template = do_save_template(
        seed.tenant,
        name="Winter offers",
        channel="sms",
        body='Hola {{firstName|default:"viajero"}}: 20 % off winter trips this week. '
        "Reply STOP to opt out.",
    )
    newsletter = do_create_list(seed.tenant, name="Newsletter", description="Demo audience")
    add_members(
        newsletter, list(Contact.objects.for_tenant(seed.tenant).values_list("pk", flat=True))
    )
    do_save_campaign(
        seed.tenant,
        {
            "name": "Winter offers (demo)",
            "inbox": seed.shared["inboxes"]["sms"].pk,
            "template": template.pk,
            "lists": [newsletter.pk],
            "pacing": "rate",
            "rate_per_second": 2,
            "quiet_hours": False,
        },
    )

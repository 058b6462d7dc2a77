"""The contacts' part of the demo tenant (``manage.py seed_demo``, step registered in
``ContactsConfig.ready``): custom attributes and a customer with a household."""

from contacts.households import do_add_household_member
from contacts.models import AttributeDefinition
from contacts.services import do_create_contact
from omnichannel.demo import DemoSeed


def seed_demo_contacts(seed: DemoSeed) -> None:
    AttributeDefinition.objects.create(
        tenant=seed.tenant,
        key="plan",
        label="Plan",
        type=AttributeDefinition.Type.CHOICE,
        choices=["basic", "gold", "platinum"],
    )
    AttributeDefinition.objects.create(
        tenant=seed.tenant,
        key="trips",
        label="Trips booked",
        type=AttributeDefinition.Type.NUMBER,
    )
    customer = do_create_contact(
        seed.tenant,
        fields={"first_name": "Lucía", "last_name": "Gómez", "language": "es"},
        phones=["+34612345678"],
        emails=["lucia@example.com"],
        attributes={"plan": "gold", "trips": 3},
    )
    do_add_household_member(customer, name="Pablo Gómez", relationship="spouse")

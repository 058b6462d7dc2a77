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


def test_it_seeds_the_demo_tenant_once(client):
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
    response = client.post(
        "/accounts/login/", {"login": "demo@centro.local", "password": "centro-demo"}
    )
    assert response.status_code == 302

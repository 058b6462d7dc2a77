import pytest
from django.test import Client

from omnichannel.actions import do_create_api_token, do_create_tenant, get_or_create_user
from omnichannel.models import Membership, Role

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def tenant(db):
    tenant, _ = do_create_tenant(
        name="Acme Travel", owner_email="owner@acme.test", owner_password=PASSWORD
    )
    return tenant


@pytest.fixture
def other_tenant(db):
    tenant, _ = do_create_tenant(
        name="Globex", owner_email="owner@globex.test", owner_password=PASSWORD
    )
    return tenant


@pytest.fixture
def owner(tenant):
    return Membership.objects.get(tenant=tenant, role__builtin="owner").user


@pytest.fixture
def make_member(db):
    """A user with ``role`` (a built-in name or a Role) in ``tenant``."""

    def make(tenant, role="agent", email=None):
        if isinstance(role, str):
            role = Role.objects.get(tenant=tenant, builtin=role)
        email = email or f"{role.name.lower().replace(' ', '-')}-{tenant.slug}@example.test"
        user, _ = get_or_create_user(email, password=PASSWORD)
        Membership.objects.create(tenant=tenant, user=user, role=role)
        return user

    return make


@pytest.fixture
def login(db):
    """A test client signed in as ``user`` (through the real allauth login form)."""

    def make(user) -> Client:
        client = Client()
        response = client.post(
            "/accounts/login/", {"login": user.email, "password": PASSWORD}, follow=False
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        return client

    return make


@pytest.fixture
def api_token(tenant):
    """The raw value of a full-permission (owner role) token for ``tenant``."""
    _, raw = do_create_api_token(
        tenant, name="Test", role=Role.objects.get(tenant=tenant, builtin="owner")
    )
    return raw

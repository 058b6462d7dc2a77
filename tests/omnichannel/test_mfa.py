"""Two-factor authentication through allauth's real pages, and tenants that require it."""

from contextlib import nullcontext
from functools import partial

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.test import Client

from omnichannel.actions import do_set_mfa_requirement
from omnichannel.models import AuditEvent
from tests.conftest import PASSWORD

ACTIVATE = "/accounts/2fa/totp/activate/"
AUTHENTICATE = "/accounts/2fa/authenticate/"
REAUTHENTICATE = "/accounts/reauthenticate/"


def confirm_password(client: Client) -> None:
    """allauth asks for the password again before adding an authenticator."""
    response = client.get(ACTIVATE)
    assert response.status_code == 302
    assert response["Location"].startswith(REAUTHENTICATE)
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]


def activate_totp(client: Client, commit=nullcontext) -> str:
    """Set up TOTP the way a person does; returns the secret their app would hold.

    allauth sends ``authenticator_added`` on commit: pass ``commit`` to run those callbacks.
    """
    confirm_password(client)
    page = client.get(ACTIVATE)
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    assert secret in page.content.decode()  # shown for manual entry next to the QR code
    with commit():
        response = client.post(ACTIVATE, {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


def start_login(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == AUTHENTICATE
    return client


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def admin_with_totp(tenant, make_member, login):
    user = make_member(tenant, "admin")
    secret = activate_totp(login(user))
    return user, secret


def test_it_activates_totp_through_allauth_and_audits_it(
    tenant, make_member, login, django_capture_on_commit_callbacks
):
    user = make_member(tenant, "admin")
    client = login(user)
    activate_totp(client, partial(django_capture_on_commit_callbacks, execute=True))
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_ENABLED, data__type="totp")
    assert event.actor == user
    # Account events of members reach the tenant's trail, and the members page shows MFA on.
    assert "Two-factor authentication enabled" in client.get("/settings/audit/").content.decode()
    assert '<span class="badge ok">On</span>' in client.get("/settings/members/").content.decode()


def test_it_refuses_a_wrong_code_while_activating(tenant, make_member, login):
    user = make_member(tenant, "admin")
    client = login(user)
    confirm_password(client)
    client.get(ACTIVATE)
    response = client.post(ACTIVATE, {"code": "000000"})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not Authenticator.objects.filter(user=user).exists()


def test_it_asks_for_the_totp_code_at_login(admin_with_totp):
    user, secret = admin_with_totp
    client = start_login(user)
    assert not is_signed_in(client)
    assert client.get("/settings/general/").status_code == 302
    assert client.get(AUTHENTICATE).status_code == 200
    response = client.post(AUTHENTICATE, {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert is_signed_in(client)
    assert client.get("/settings/general/").status_code == 200


def test_it_refuses_a_wrong_totp_code_at_login(admin_with_totp):
    user, secret = admin_with_totp
    client = start_login(user)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    response = client.post(AUTHENTICATE, {"code": wrong})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not is_signed_in(client)
    assert client.get("/settings/general/")["Location"].startswith("/accounts/login/")


def test_it_accepts_a_recovery_code_once(admin_with_totp):
    user, _ = admin_with_totp
    codes = RecoveryCodes(
        Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()
    code = codes[0]

    client = start_login(user)
    assert client.post(AUTHENTICATE, {"code": code}).status_code == 302
    assert is_signed_in(client)

    again = start_login(user)
    response = again.post(AUTHENTICATE, {"code": code})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not is_signed_in(again)
    # Another unused code still works.
    assert again.post(AUTHENTICATE, {"code": codes[1]}).status_code == 302


def test_it_sends_members_without_totp_to_setup_when_the_tenant_requires_it(
    tenant, owner, make_member, login
):
    do_set_mfa_requirement(tenant, required=True, acting_user=owner)
    client = login(make_member(tenant, "admin"))
    for path in ["/", "/settings/general/", "/settings/members/", "/inbox/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == ACTIVATE, path
    page = client.get(ACTIVATE, follow=True)  # through allauth's password confirmation
    assert "Acme Travel requires two-factor authentication" in page.content.decode()

    activate_totp(client)
    assert client.get("/settings/general/").status_code == 200


def test_it_does_not_ask_members_of_other_tenants_for_totp(
    tenant, other_tenant, owner, make_member, login
):
    do_set_mfa_requirement(tenant, required=True, acting_user=owner)
    client = login(make_member(other_tenant, "admin"))
    assert client.get("/settings/general/").status_code == 200


def test_it_audits_the_tenants_mfa_requirement(tenant, owner, login):
    do_set_mfa_requirement(tenant, required=True, acting_user=owner)
    do_set_mfa_requirement(tenant, required=True, acting_user=owner)
    events = AuditEvent.objects.filter(action=AuditEvent.Action.MFA_REQUIREMENT_CHANGED)
    assert [e.data for e in events] == [{"required": True}]

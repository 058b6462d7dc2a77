"""Inviting people by email: the link, accepting, expiry, reuse and escalation."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from omnichannel.actions import do_invite_member
from omnichannel.models import AuditEvent, Invitation, Membership, Role

pytestmark = pytest.mark.clock

User = get_user_model()
NEW_PASSWORD = "a fresh and long passphrase 77"


def role(tenant, builtin) -> Role:
    return Role.objects.get(tenant=tenant, builtin=builtin)


def invite(tenant, email="newbie@example.test", builtin="agent") -> str:
    """An invitation made by the tenant's owner; returns the raw token."""
    owner = Membership.objects.select_related("role").get(tenant=tenant, role__builtin="owner")
    _, raw = do_invite_member(tenant, email=email, role=role(tenant, builtin), acting=owner)
    return raw


def accept_link_from_outbox() -> str:
    (message,) = mail.outbox
    match = re.search(r"http://testserver(/invitations/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_it_emails_an_invitation_with_the_accept_link(
    tenant, owner, login, django_capture_on_commit_callbacks
):
    client = login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/settings/members/invite/",
            {"email": "Newbie@Example.test", "role": role(tenant, "supervisor").pk},
        )
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["Newbie@example.test"]
    assert "Acme Travel" in message.subject
    assert "as Supervisor" in message.body
    link = accept_link_from_outbox()
    invitation = Invitation.objects.get(tenant=tenant)
    assert invitation.invited_by == owner
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert Client().get(link).status_code == 200
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INVITATION_SENT).count() == 1


def test_it_creates_the_account_and_membership_on_accept_and_signs_in(
    tenant, owner, login, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        login(owner).post(
            "/settings/members/invite/",
            {"email": "newbie@example.test", "role": role(tenant, "supervisor").pk},
        )
    link = accept_link_from_outbox()
    newcomer = Client()
    page = newcomer.get(link)
    assert "Create my account and join" in page.content.decode()
    response = newcomer.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(email="newbie@example.test")
    assert user.check_password(NEW_PASSWORD)
    membership = Membership.objects.get(tenant=tenant, user=user)
    assert membership.role.builtin == "supervisor"
    # Signed in: the settings area (supervisors may see General) opens without a login.
    assert newcomer.get("/settings/general/").status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.INVITATION_ACCEPTED, actor=user
    ).exists()
    # The link worked once.
    again = Client().get(link)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_it_answers_410_to_an_expired_invitation_and_creates_nothing(tenant):
    raw = invite(tenant)
    Invitation.objects.filter(tenant=tenant).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    client = Client()
    link = f"/invitations/{raw}/"
    page = client.get(link)
    assert page.status_code == 410
    assert "This invitation has expired" in page.content.decode()
    response = client.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()
    assert not User.objects.filter(email="newbie@example.test").exists()


def test_it_refuses_to_reuse_an_accepted_invitation(tenant, make_member, login):
    raw = invite(tenant)
    first = Client()
    assert (
        first.post(
            f"/invitations/{raw}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        ).status_code
        == 302
    )
    response = Client().post(
        f"/invitations/{raw}/",
        {"password1": "another pass 123456", "password2": "another pass 123456"},
    )
    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert User.objects.get(email="newbie@example.test").check_password(NEW_PASSWORD)
    assert Membership.objects.filter(tenant=tenant, user__email="newbie@example.test").count() == 1


def test_it_refuses_a_signed_in_user_with_another_email(tenant, other_tenant, make_member, login):
    raw = invite(tenant, email="someone-else@example.test")
    stranger = make_member(other_tenant, "agent", email="stranger@example.test")
    client = login(stranger)
    response = client.post(f"/invitations/{raw}/")
    assert response.status_code == 403
    assert "This invitation is for someone-else@example.test" in response.content.decode()
    assert not Membership.objects.filter(tenant=tenant, user=stranger).exists()
    assert Invitation.objects.get(tenant=tenant).accepted_at is None


def test_it_lets_a_signed_in_user_with_the_invited_email_join(
    tenant, other_tenant, make_member, login
):
    existing = make_member(other_tenant, "agent", email="existing@example.test")
    raw = invite(tenant, email="existing@example.test", builtin="viewer")
    client = login(existing)
    response = client.post(f"/invitations/{raw}/")
    assert response.status_code == 302
    assert Membership.objects.get(tenant=tenant, user=existing).role.builtin == "viewer"


def test_it_asks_an_existing_account_to_sign_in_instead_of_creating_one(
    tenant, other_tenant, make_member
):
    make_member(other_tenant, "agent", email="existing@example.test")
    raw = invite(tenant, email="existing@example.test")
    client = Client()
    assert "Sign in</a> to accept" in client.get(f"/invitations/{raw}/").content.decode()
    response = client.post(
        f"/invitations/{raw}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 409
    assert not Membership.objects.filter(tenant=tenant, user__email="existing@example.test")


def test_it_refuses_a_second_pending_invitation_for_the_same_email(tenant, owner, login):
    invite(tenant, email="twice@example.test")
    response = login(owner).post(
        "/settings/members/invite/",
        {"email": "TWICE@example.test", "role": role(tenant, "agent").pk},
    )
    assert response.status_code == 409
    assert "already has a pending invitation; revoke it to send a new one." in (
        response.content.decode()
    )
    assert Invitation.objects.filter(tenant=tenant).count() == 1


def test_it_lets_a_new_invitation_replace_an_expired_one(tenant, owner, login):
    invite(tenant, email="late@example.test")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(days=1))
    response = login(owner).post(
        "/settings/members/invite/",
        {"email": "late@example.test", "role": role(tenant, "agent").pk},
    )
    assert response.status_code == 302
    assert Invitation.objects.filter(tenant=tenant, revoked_at__isnull=True).count() == 1


def test_it_refuses_to_invite_an_existing_member(tenant, owner, make_member, login):
    agent = make_member(tenant, "agent")
    response = login(owner).post(
        "/settings/members/invite/", {"email": agent.email, "role": role(tenant, "viewer").pk}
    )
    assert response.status_code == 409
    assert "is already a member" in response.content.decode()


def test_it_forbids_an_admin_to_invite_an_owner(tenant, make_member, login):
    client = login(make_member(tenant, "admin"))
    response = client.post(
        "/settings/members/invite/",
        {"email": "boss@example.test", "role": role(tenant, "owner").pk},
    )
    assert response.status_code == 403
    assert "You cannot grant permissions you do not have" in response.content.decode()
    assert not Invitation.objects.filter(tenant=tenant).exists()


def test_it_forbids_inviting_with_a_custom_role_beyond_the_inviters_own(tenant, make_member, login):
    from omnichannel.actions import do_create_role

    recruiter = do_create_role(
        tenant, name="Recruiter", codenames=["members.view", "members.invite"]
    )
    powerful = do_create_role(tenant, name="Token keeper", codenames=["api_tokens.manage"])
    client = login(make_member(tenant, recruiter))
    response = client.post(
        "/settings/members/invite/", {"email": "x@example.test", "role": powerful.pk}
    )
    assert response.status_code == 403
    assert "api_tokens.manage" in response.content.decode()
    response = client.post(
        "/settings/members/invite/", {"email": "x@example.test", "role": recruiter.pk}
    )
    assert response.status_code == 302


def test_it_revokes_an_invitation_so_the_link_stops_working(tenant, owner, login):
    raw = invite(tenant)
    invitation = Invitation.objects.get(tenant=tenant)
    response = login(owner).post(f"/settings/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert Client().get(f"/invitations/{raw}/").status_code == 404
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INVITATION_REVOKED).exists()


def test_it_answers_404_to_an_unknown_invitation_token(db):
    response = Client().get("/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_it_refuses_mismatched_passwords_on_accept(tenant):
    raw = invite(tenant)
    response = Client().post(
        f"/invitations/{raw}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )
    assert response.status_code == 400
    assert "The two passwords differ." in response.content.decode()
    assert not User.objects.filter(email="newbie@example.test").exists()

"""Password reset and email verification through allauth's real pages and the real outbox."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from omnichannel.models import AuditEvent

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a brand new passphrase 7"


def link_in(message) -> str:
    return re.search(r"http://testserver(/\S+)", message.body).group(1)


def test_it_resets_a_forgotten_password_by_email_and_audits_it(
    tenant, owner, django_capture_on_commit_callbacks
):
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]

    form_url = client.get(link_in(mail.outbox[0]))["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    old = Client().post("/accounts/login/", {"login": owner.email, "password": "wrong"})
    assert old.status_code == 200
    new = Client().post("/accounts/login/", {"login": owner.email, "password": NEW_PASSWORD})
    assert new.status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET, actor=owner).exists()


def test_it_does_not_reveal_whether_an_address_has_an_account(db):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert all("reset/key" not in message.body for message in mail.outbox)


def test_it_rejects_a_tampered_reset_link(tenant, owner):
    client = Client()
    client.post("/accounts/password/reset/", {"email": owner.email})
    tampered = link_in(mail.outbox[0]).rstrip("/") + "x/"
    response = client.get(tampered, follow=True)
    assert response.status_code == 200
    assert "password1" not in response.content.decode()


def test_it_verifies_an_added_email_address_before_trusting_it(tenant, owner, login):
    client = login(owner)
    response = client.post("/accounts/email/", {"email": "second@acme.test", "action_add": ""})
    assert response.status_code == 302
    address = EmailAddress.objects.get(email="second@acme.test")
    assert address.verified is False

    confirm = link_in(mail.outbox[-1])
    assert client.post(confirm).status_code == 302
    address.refresh_from_db()
    assert address.verified is True

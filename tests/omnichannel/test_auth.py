"""Signing in: audit rows for success and failure, rate limits, and no open signup."""

from django.contrib.auth import get_user_model
from django.test import Client

from omnichannel.models import AuditEvent
from tests.conftest import PASSWORD

Action = AuditEvent.Action


def post_login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_it_audits_a_successful_login(tenant, owner):
    client = Client(HTTP_USER_AGENT="pytest-browser/1.0")
    response = post_login(client, owner.email, PASSWORD)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.LOGIN_SUCCEEDED)
    assert event.actor == owner
    assert event.ip_address == "127.0.0.1"
    assert event.user_agent == "pytest-browser/1.0"


def test_it_audits_a_failed_login_without_the_password(tenant, owner):
    client = Client()
    response = post_login(client, owner.email, "wrong password 1")
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in (
        response.content.decode()
    )
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor == owner
    assert event.data == {"identifier": owner.email}
    assert "wrong password" not in str(event.data)
    assert not AuditEvent.objects.filter(action=Action.LOGIN_SUCCEEDED).exists()


def test_it_audits_a_failed_login_for_an_unknown_address(db):
    post_login(Client(), "nobody@example.test", "whatever 123")
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor is None
    assert event.data == {"identifier": "nobody@example.test"}


def test_it_shows_failed_logins_of_members_in_the_tenants_audit_trail(tenant, owner, login):
    post_login(Client(), owner.email, "wrong password 1")
    body = login(owner).get("/settings/audit/", {"action": Action.LOGIN_FAILED}).content
    assert "Login failed" in body.decode()


def test_it_rate_limits_repeated_failed_logins_for_an_address(tenant, owner):
    client = Client()
    for _ in range(5):
        response = post_login(client, owner.email, "wrong password 1")
        assert "not correct" in response.content.decode()
    # Now even the right password is refused until the window passes.
    response = post_login(client, owner.email, PASSWORD)
    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address from elsewhere is unaffected.
    other = Client(REMOTE_ADDR="10.0.0.9")
    other_user = get_user_model().objects.create_user(
        "second@example.test", "second@example.test", PASSWORD
    )
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(
        user=other_user, email=other_user.email, primary=True, verified=True
    )
    assert post_login(other, other_user.email, PASSWORD).status_code == 302


def test_it_rate_limits_failed_logins_from_one_ip_across_addresses(db):
    client = Client(REMOTE_ADDR="10.0.0.7")
    responses = [post_login(client, f"guess{n}@example.test", "nope 12345") for n in range(11)]
    assert all("not correct" in r.content.decode() for r in responses[:10])
    assert "Too many failed login attempts" in responses[10].content.decode()


def test_it_keeps_signup_closed(db):
    client = Client()
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert "Sign Up Closed" in page.content.decode()
    response = client.post(
        "/accounts/signup/",
        {"email": "walk-in@example.test", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(email="walk-in@example.test").exists()


def test_it_audits_logout(tenant, owner, login):
    client = login(owner)
    assert client.post("/accounts/logout/").status_code == 302
    assert AuditEvent.objects.filter(action=Action.LOGOUT, actor=owner).exists()

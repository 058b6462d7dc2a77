"""Error answers people see are pages in the site's layout; machines keep their own answers."""

import pytest
from django.test import Client
from django.urls import reverse

from omnichannel.actions import do_create_api_token
from omnichannel.models import Role

pytestmark = pytest.mark.django_db


def test_a_wrong_method_on_a_page_answers_a_405_page_in_the_layout(tenant, owner, login):
    token, _ = do_create_api_token(
        tenant, name="CRM", role=Role.objects.get(tenant=tenant, builtin="agent")
    )
    response = login(owner).get(f"/settings/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert 'class="topbar"' in body  # the site's layout, signed in
    assert "This address does not take that kind of request" in body


def test_a_wrong_method_answers_a_405_page_when_signed_out_too(client):
    response = client.put("/unsubscribe/not-a-token/")
    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert "This address does not take that kind of request" in response.content.decode()


def test_webhooks_and_the_api_keep_their_machine_answers(tenant, api_token):
    from tests.inbox.api_factories import bearer, make_inbox

    inbox = make_inbox(tenant)
    webhook = Client().get(
        reverse("webhooks:receive", args=["twilio", inbox.webhook_token, "inbound"])
    )
    assert webhook.status_code == 405 and webhook["Allow"] == "POST"
    assert b"<html" not in webhook.content

    api = Client().delete("/api/v1/tokens", **bearer(api_token))
    assert api.status_code == 405 and api["Content-Type"].startswith("application/json")

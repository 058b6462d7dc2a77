"""Connecting an Evolution instance: the QR code flow in Settings → Channels, the webhooks
registered through the API, test connection, and the link's state following the
``connection.update`` webhooks."""

import pytest
from django.core.cache import cache

from inbox.actions.notify import SERVER_DOWN
from inbox.models import InboxHealth
from omnichannel.models import AgentNotification
from tests.fakes.evolution import QR_PNG, fixture
from tests.inbox.evolution_helpers import make_evo_inbox, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(tenant, evo_server):
    cache.clear()
    return make_evo_inbox(tenant, evo_server)


def test_connecting_registers_the_webhooks_and_shows_the_qr_code_until_open(
    owner, login, inbox, evo_server
):
    client = login(owner)
    page = client.get(f"/settings/channels/{inbox.pk}/").content.decode()
    assert "Connect: show the QR code" in page

    piece = client.post(f"/settings/channels/{inbox.pk}/link/", headers={"HX-Request": "true"})

    html = piece.content.decode()
    assert piece.status_code == 200
    assert f'src="data:image/png;base64,{QR_PNG}"' in html
    assert 'hx-trigger="every 2s"' in html  # the page follows the state
    hook = evo_server.webhook
    assert hook["url"] == f"http://testserver/webhooks/evolution/{inbox.webhook_token}/events/"
    assert hook["headers"] == {"X-Centro-Webhook-Secret": inbox.get_credentials()["webhook_secret"]}
    assert set(hook["events"]) >= {"MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE"}
    assert hook["enabled"] is True and hook["byEvents"] is False

    waiting = client.get(f"/settings/channels/{inbox.pk}/link/state/").content.decode()
    assert 'data-state="connecting"' in waiting and QR_PNG in waiting
    evo_server.scan()
    done = client.get(f"/settings/channels/{inbox.pk}/link/state/").content.decode()
    assert 'data-state="open"' in done and "Connected" in done
    assert "hx-trigger" not in done and QR_PNG not in done  # polling stops
    assert InboxHealth.objects.get(inbox=inbox).connection_state == "open"
    # Every call carried the instance's key: the fake answers 401 otherwise.
    assert evo_server.paths("GET")[-1] == "/instance/connectionState/acme"


def test_a_wrong_api_key_is_said_and_nothing_registered(tenant, owner, login, evo_server):
    cache.clear()
    inbox = make_evo_inbox(tenant, evo_server, api_key="wrong-key")
    client = login(owner)

    piece = client.post(f"/settings/channels/{inbox.pk}/link/", headers={"HX-Request": "true"})

    assert "rejected this inbox&#x27;s API key" in piece.content.decode()
    assert evo_server.webhook == {}
    check = client.post(f"/settings/channels/{inbox.pk}/test/").content.decode()
    assert "rejected this inbox&#x27;s API key" in check


def test_test_connection_reports_the_instance_state(owner, login, inbox, evo_server):
    evo_server.state = "open"
    page = login(owner).post(f"/settings/channels/{inbox.pk}/test/").content.decode()
    assert 'data-ok="true"' in page and "WhatsApp is connected." in page


def test_the_qr_code_is_for_credential_managers_only(tenant, make_member, login, inbox):
    supervisor = make_member(tenant, "supervisor")
    client = login(supervisor)
    assert client.post(f"/settings/channels/{inbox.pk}/link/").status_code == 403
    assert client.get(f"/settings/channels/{inbox.pk}/link/state/").status_code == 403


def test_another_tenant_cannot_connect_this_inbox(other_tenant, login, inbox, evo_server):
    from omnichannel.models import Membership

    stranger = Membership.objects.get(tenant=other_tenant, role__builtin="owner").user
    response = login(stranger).post(f"/settings/channels/{inbox.pk}/link/")
    assert response.status_code == 404
    assert evo_server.requests == []


def test_health_follows_connection_updates(tenant, owner, inbox, evo_server):
    from inbox.actions.linking import do_start_link

    do_start_link(inbox)
    assert post(evo_server, fixture("connection_update_open")).status_code == 200
    health = InboxHealth.objects.get(inbox=inbox)
    assert (health.connection_state, health.unreachable_since) == ("open", None)
    assert health.last_heard_at is not None

    logged_out = fixture("connection_update_open")
    logged_out["data"].update(state="close", statusReason=401)
    post(evo_server, logged_out)
    post(evo_server, logged_out)  # Evolution retries: one alert per outage
    health.refresh_from_db()
    assert health.connection_state == "close" and health.unreachable_since is not None
    assert "logged this number out" in health.last_failure
    alerts = AgentNotification.objects.filter(tenant=tenant, kind=SERVER_DOWN)
    assert list(alerts.values_list("title", flat=True)) == [
        "WhatsApp (Evolution): the server is unreachable"
    ]

    post(evo_server, fixture("connection_update_open"))
    health.refresh_from_db()
    assert (health.connection_state, health.unreachable_since) == ("open", None)


def test_a_new_qr_code_from_the_webhook_is_what_the_page_shows(owner, login, inbox, evo_server):
    from inbox.actions.linking import do_start_link

    do_start_link(inbox)
    newer = fixture("qrcode_updated")
    newer["data"]["qrcode"]["base64"] = "data:image/png;base64,TkVXRVI="
    assert post(evo_server, newer).status_code == 200

    piece = login(owner).get(f"/settings/channels/{inbox.pk}/link/state/").content.decode()
    assert "data:image/png;base64,TkVXRVI=" in piece

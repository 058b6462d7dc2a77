"""The per-contact send limit resolves inbox -> tenant -> platform default."""

import pytest

from inbox.actions.send import contact_hourly_limit, do_send_message
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent

pytestmark = pytest.mark.django_db


def send_until_refused(tenant, inbox, phone) -> int:
    for sent in range(50):
        try:
            do_send_message(tenant, inbox=inbox, to=phone, body=f"Update {sent}")
        except ActionError as exc:
            assert exc.code == "rate_limited" and exc.retry_after > 0
            return sent
    raise AssertionError("never limited")


def test_it_uses_the_platform_default_without_tenant_or_inbox_settings(sms_inbox, settings):
    settings.INBOX_CONTACT_HOURLY_LIMIT = 4
    assert contact_hourly_limit(sms_inbox) == 4


def test_it_applies_the_tenants_limit(tenant, sms_inbox):
    tenant.contact_hourly_limit = 2
    tenant.save()
    sms_inbox.refresh_from_db()
    assert send_until_refused(tenant, sms_inbox, "+14155550111") == 2


def test_it_lets_an_inbox_setting_override_the_tenant(tenant, sms_inbox):
    tenant.contact_hourly_limit = 2
    tenant.save()
    sms_inbox.settings["contact_hourly_limit"] = 3
    sms_inbox.save()
    sms_inbox.refresh_from_db()
    assert send_until_refused(tenant, sms_inbox, "+14155550122") == 3


def test_it_lets_an_admin_set_the_tenants_limit_in_settings(tenant, owner, login):
    client = login(owner)
    form = {"name": tenant.name, "timezone": "UTC", "default_region": "US"}
    response = client.post("/settings/general/", form | {"contact_hourly_limit": "25"})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.contact_hourly_limit == 25
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_SETTINGS_CHANGED)
    assert event.data["changed"]["contact_hourly_limit"] == [None, 25]

    refused = client.post("/settings/general/", form | {"contact_hourly_limit": "0"})
    assert refused.status_code == 400
    tenant.refresh_from_db()
    assert tenant.contact_hourly_limit == 25

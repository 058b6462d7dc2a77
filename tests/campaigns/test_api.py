"""Campaigns and message templates through the JSON API (campaigns.api)."""

import dataclasses
import datetime
import json
import zoneinfo

import pytest
from django.utils import timezone

from campaigns import engine
from campaigns.api import StatsOut
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import Campaign, MessageTemplate
from campaigns.services import do_save_template
from campaigns.stats import Stats
from contacts.actions import do_set_consent
from contacts.lists import add_members, do_create_list
from contacts.models import Consent, Contact, Segment
from omnichannel.actions import do_create_api_token, do_create_role
from omnichannel.models import AuditEvent
from tests.campaigns.conftest import make_contacts
from tests.inbox.api_factories import assert_error, bearer, token_for

pytestmark = pytest.mark.django_db

S = Campaign.Status


def call(client, method: str, path: str, raw: str, body=None, **headers):
    """A request as API clients send it: a JSON body, or none at all."""
    return client.generic(
        method.upper(),
        f"/api/v1{path}",
        data=json.dumps(body) if body is not None else b"",
        content_type="application/json",
        **bearer(raw),
        **headers,
    )


def campaign_body(inbox, template, lists=(), **fields) -> dict:
    return {
        "name": "Winter sale",
        "inbox": inbox.pk,
        "template": template.pk,
        "lists": [lst.pk for lst in lists],
        "quiet_hours": False,
        **fields,
    }


def create(client, raw, body, **headers) -> dict:
    response = call(client, "post", "/campaigns", raw, body, **headers)
    assert response.status_code == 201, response.content
    return response.json()


# --- Templates ----------------------------------------------------------------------------------


def test_it_creates_reads_changes_and_deletes_templates(client, tenant, api_token):
    created = call(
        client,
        "post",
        "/templates",
        api_token,
        {"name": "Promo", "channel": "sms", "body": "Hola {{firstName}}"},
    )
    assert created.status_code == 201, created.content
    template = created.json()
    assert (template["name"], template["channel"], template["body"]) == (
        "Promo",
        "sms",
        "Hola {{firstName}}",
    )
    path = f"/templates/{template['id']}"
    listing = call(client, "get", "/templates", api_token).json()
    assert listing["count"] == 1 and listing["items"][0]["id"] == template["id"]
    assert call(client, "get", "/templates?channel=whatsapp", api_token).json()["count"] == 0
    changed = call(client, "patch", path, api_token, {"body": 'Hola {{firstName|default:"tú"}}'})
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "Promo"  # untouched fields stay
    assert MessageTemplate.objects.get().body == 'Hola {{firstName|default:"tú"}}'
    assert call(client, "get", path, api_token).json()["body"].endswith('"tú"}}')
    assert call(client, "delete", path, api_token).status_code == 204
    assert not MessageTemplate.objects.exists()


def test_an_invalid_template_answers_422_field_by_field(client, tenant, api_token, sms_template):
    response = call(
        client,
        "post",
        "/templates",
        api_token,
        {"name": "", "channel": "fax", "body": "Hola {{plan}"},
    )
    errors = assert_error(response, 422, "invalid")["errors"]
    assert set(errors) == {"name", "channel", "body"}
    assert errors["channel"].startswith("must be one of")
    taken = call(client, "patch", f"/templates/{sms_template.pk}", api_token, {"body": "{{nope}}"})
    assert "unknown variable “nope”" in assert_error(taken, 422, "invalid")["errors"]["body"]
    duplicate = call(
        client, "post", "/templates", api_token, {"name": "Hello", "channel": "sms", "body": "Hi"}
    )
    assert "name" in assert_error(duplicate, 422, "invalid")["errors"]
    assert MessageTemplate.objects.count() == 1
    assert MessageTemplate.objects.get().body == sms_template.body


def test_it_previews_a_template_for_a_contact_with_segments_and_cost(
    client, tenant, api_token, sms_template
):
    (ana,) = make_contacts(tenant, 1)
    ana.first_name = "Zoë"
    ana.save()
    path = f"/templates/{sms_template.pk}/preview"
    body = call(
        client, "post", path, api_token, {"contact_id": ana.pk, "price_per_segment": "0.0079"}
    ).json()
    assert body["text"] == "Hi Zoë!"
    # "ë" is not GSM-7: the message goes as UCS-2.
    assert (body["encoding"], body["segments"], body["non_gsm"]) == ("UCS-2", 1, "ë")
    assert body["cost"] == "0.0079"
    plain = call(client, "post", path, api_token, {"contact_id": ana.pk}).json()
    assert plain["cost"] is None


def test_a_template_a_campaign_uses_is_kept(client, tenant, api_token, make_campaign):
    campaign = make_campaign()
    response = call(client, "delete", f"/templates/{campaign.template_id}", api_token)
    assert_error(response, 409, "conflict")
    assert MessageTemplate.objects.filter(pk=campaign.template_id).exists()


# --- Campaign drafts ----------------------------------------------------------------------------


def test_it_creates_reads_changes_and_deletes_a_draft(
    client, tenant, api_token, sms_inbox, sms_template, audience
):
    tenant.timezone = "America/Mexico_City"
    tenant.save()
    first, second = audience(2, name="First"), audience(2, name="Second", start=10)
    segment = Segment.objects.create(tenant=tenant, name="All", filters={})
    campaign = create(
        client,
        api_token,
        campaign_body(
            sms_inbox,
            sms_template,
            [first, second],
            segments=[segment.pk],
            scheduled_at="2099-12-24T09:00",
            pacing="rate",
            rate_per_second=5,
            quiet_hours=True,
            quiet_start="22:00",
            quiet_end="07:30",
        ),
    )
    assert campaign["status"] == "draft" and campaign["status_label"] == "Draft"
    assert (campaign["inbox"], campaign["template"]) == (sms_inbox.pk, sms_template.pk)
    assert campaign["lists"] == sorted([first.pk, second.pk])
    assert campaign["segments"] == [segment.pk]
    assert (campaign["pacing"], campaign["rate_per_second"]) == ("rate", 5.0)
    assert (campaign["quiet_start"], campaign["quiet_end"]) == ("22:00:00", "07:30:00")
    assert (campaign["total"], campaign["sent"], campaign["launched_at"]) == (0, 0, None)
    # A time without an offset is the tenant's: 09:00 in Mexico City.
    scheduled = datetime.datetime.fromisoformat(campaign["scheduled_at"])
    mexico = zoneinfo.ZoneInfo("America/Mexico_City")
    assert scheduled == datetime.datetime(2099, 12, 24, 9, 0, tzinfo=mexico)

    path = f"/campaigns/{campaign['id']}"
    assert call(client, "get", path, api_token).json() == campaign
    changed = call(
        client,
        "patch",
        path,
        api_token,
        {"name": "Winter sale 2", "lists": [second.pk], "scheduled_at": None},
    )
    assert changed.status_code == 200, changed.content
    changed = changed.json()
    assert (changed["name"], changed["lists"], changed["scheduled_at"]) == (
        "Winter sale 2",
        [second.pk],
        None,
    )
    assert changed["segments"] == [segment.pk] and changed["pacing"] == "rate"
    assert call(client, "delete", path, api_token).status_code == 204
    assert_error(call(client, "get", path, api_token), 404, "not_found")
    assert not Campaign.objects.exists()


def test_an_invalid_campaign_answers_422_naming_each_field(
    client, tenant, api_token, sms_inbox, twilio_inbox
):
    whatsapp = do_save_template(
        tenant, name="WA", channel="whatsapp", content_sid="HX" + "a" * 32, variables={}
    )
    response = call(
        client,
        "post",
        "/campaigns",
        api_token,
        {
            "name": "  ",
            "inbox": sms_inbox.pk,
            "template": whatsapp.pk,
            "lists": [987654],
            "scheduled_at": "next tuesday",
            "pacing": "rate",
            "quiet_start": "25:00",
        },
    )
    err = assert_error(response, 422, "invalid")
    assert set(err["errors"]) == {
        "name",
        "template",
        "lists",
        "scheduled_at",
        "rate_per_second",
        "quiet_start",
    }
    assert err["errors"]["template"] == "is written for whatsapp, but the inbox sends sms"
    assert "987654" in err["errors"]["lists"]
    assert err["errors"]["rate_per_second"] == "is required with pacing “rate”"
    assert "scheduled_at" in err["message"]
    # A body of the wrong shape is refused before the service, still naming the field.
    wrong_type = call(
        client, "post", "/campaigns", api_token, {"name": "X", "inbox": "abc", "template": 1}
    )
    details = assert_error(wrong_type, 422, "invalid")["details"]
    assert any("inbox" in detail["loc"] for detail in details)
    null_quiet = call(
        client,
        "post",
        "/campaigns",
        api_token,
        {"name": "X", "inbox": sms_inbox.pk, "template": whatsapp.pk, "quiet_hours": None},
    )
    assert_error(null_quiet, 422, "invalid")
    assert not Campaign.objects.exists()


def test_a_pacing_number_keeps_the_pacing_and_a_stray_one_is_refused(
    client, tenant, api_token, make_campaign
):
    campaign = make_campaign(pacing="delay", delay_seconds=2)
    path = f"/campaigns/{campaign.pk}"
    changed = call(client, "patch", path, api_token, {"delay_seconds": 0.5}).json()
    assert (changed["pacing"], changed["delay_seconds"]) == ("delay", 0.5)
    changed = call(client, "patch", path, api_token, {"quiet_hours": True}).json()
    assert (changed["pacing"], changed["delay_seconds"]) == ("delay", 0.5)
    stray = call(client, "patch", path, api_token, {"rate_per_second": 3})
    errors = assert_error(stray, 422, "invalid")["errors"]
    assert errors == {"rate_per_second": "is only used with pacing “rate”"}
    switched = call(client, "patch", path, api_token, {"pacing": "rate", "rate_per_second": 3})
    assert switched.json()["rate_per_second"] == 3.0
    assert switched.json()["delay_seconds"] is None


def test_it_repeats_a_create_with_the_same_idempotency_key(
    client, tenant, api_token, sms_inbox, sms_template
):
    body = campaign_body(sms_inbox, sms_template)
    key = {"HTTP_IDEMPOTENCY_KEY": "create-1"}
    first = create(client, api_token, body, **key)
    again = call(client, "post", "/campaigns", api_token, body, **key)
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first["id"]
    other = call(client, "post", "/campaigns", api_token, {**body, "name": "Other"}, **key)
    assert_error(other, 422, "idempotency_key_reused")
    assert Campaign.objects.count() == 1


# --- Launch, stats and the states ---------------------------------------------------------------


def test_it_launches_sends_and_reports_the_numbers(
    client, tenant, api_token, sms_inbox, sms_template, audience, fake_twilio
):
    people = audience(4)
    nowhere = Contact.objects.create(tenant=tenant, name="No phone", phone="12")
    add_members(people, [nowhere.pk])
    campaign = create(client, api_token, campaign_body(sms_inbox, sms_template, [people]))
    launched = call(client, "post", f"/campaigns/{campaign['id']}/launch", api_token)
    assert launched.status_code == 200, launched.content
    launched = launched.json()
    assert launched["status"] == "running"
    assert (launched["total"], launched["skipped"], launched["pending"]) == (5, 1, 4)
    assert launched["launched_at"] and launched["started_at"]

    assert engine.work(campaign["id"], seconds=30) == "finished"

    stats = call(client, "get", f"/campaigns/{campaign['id']}/stats", api_token)
    assert stats.status_code == 200, stats.content
    stats = stats.json()
    assert stats["status"] == "completed"
    assert (stats["total"], stats["sent"], stats["failed"], stats["queued"]) == (5, 4, 0, 0)
    assert stats["skipped"] == 1 and stats["skipped_by_reason"] == {"invalid": 1}
    assert stats["progress"] == 100.0
    assert sum(bar["sent"] for bar in stats["timeline"]) == 4
    assert len(fake_twilio.sent) == 4
    detail = call(client, "get", f"/campaigns/{campaign['id']}", api_token).json()
    assert (detail["status"], detail["sent"]) == ("completed", 4) and detail["finished_at"]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CAMPAIGN_LAUNCHED, target_id=str(campaign["id"])
    ).exists()


def test_a_second_launch_answers_409(client, tenant, api_token, make_campaign, audience):
    campaign = make_campaign(lists=[audience(2)])
    path = f"/campaigns/{campaign.pk}/launch"
    assert call(client, "post", path, api_token).status_code == 200
    err = assert_error(call(client, "post", path, api_token), 409, "conflict")
    assert "already launched" in err["message"]
    campaign.refresh_from_db()
    assert campaign.total == 2  # the audience was snapshotted once


def test_a_launch_with_an_idempotency_key_happens_once(
    client, tenant, api_token, make_campaign, audience
):
    campaign = make_campaign(lists=[audience(2)])
    path = f"/campaigns/{campaign.pk}/launch"
    key = {"HTTP_IDEMPOTENCY_KEY": "launch-1"}
    first = call(client, "post", path, api_token, **key)
    again = call(client, "post", path, api_token, **key)
    assert (first.status_code, again.status_code) == (200, 200), again.content
    assert again.json()["id"] == first.json()["id"] and again.json()["status"] == "running"
    launches = AuditEvent.objects.filter(action=AuditEvent.Action.CAMPAIGN_LAUNCHED)
    assert launches.count() == 1


def test_a_launch_without_an_audience_answers_422(client, tenant, api_token, make_campaign):
    campaign = make_campaign()
    response = call(client, "post", f"/campaigns/{campaign.pk}/launch", api_token)
    err = assert_error(response, 422, "invalid")
    assert err["errors"] == {"audience": "choose at least one list or segment"}
    campaign.refresh_from_db()
    assert campaign.status == S.DRAFT


def test_it_pauses_resumes_and_cancels_and_refuses_the_wrong_state(
    client, tenant, api_token, make_campaign, audience
):
    scheduled = timezone.now() + datetime.timedelta(days=1)
    campaign = make_campaign(lists=[audience(3)], scheduled_at=scheduled.isoformat())
    path = f"/campaigns/{campaign.pk}"

    def act(action: str, body=None):
        return call(client, "post", f"{path}/{action}", api_token, body)

    for action in ("pause", "resume", "cancel"):
        if action != "cancel":
            assert_error(act(action), 409, "conflict")  # still a draft
    assert act("launch").json()["status"] == "scheduled"
    assert_error(call(client, "patch", path, api_token, {"name": "Late"}), 409, "conflict")
    assert_error(call(client, "delete", path, api_token), 409, "conflict")
    paused = act("pause", {"reason": "Checking the offer"}).json()
    assert (paused["status"], paused["pause_reason"]) == ("paused", "Checking the offer")
    assert_error(act("pause"), 409, "conflict")
    resumed = act("resume").json()
    assert (resumed["status"], resumed["pause_reason"]) == ("scheduled", "")  # waits its time
    assert_error(act("resume"), 409, "conflict")
    cancelled = act("cancel").json()
    assert (cancelled["status"], cancelled["cancelled"], cancelled["pending"]) == (
        "cancelled",
        3,
        0,
    )
    for action in ("pause", "resume", "cancel", "launch"):
        assert_error(act(action), 409, "conflict")
    assert call(client, "delete", path, api_token).status_code == 204


def test_a_running_campaign_pauses_and_resumes_running(
    client, tenant, api_token, make_campaign, audience
):
    campaign = do_launch_campaign(make_campaign(lists=[audience(2)]))
    path = f"/campaigns/{campaign.pk}"
    paused = call(client, "post", f"{path}/pause", api_token).json()
    assert paused["status"] == "paused" and paused["pause_reason"]
    assert call(client, "post", f"{path}/resume", api_token).json()["status"] == "running"


def test_it_lists_campaigns_newest_first_by_status_with_bounded_queries(
    client, tenant, api_token, make_campaign, audience, django_assert_max_num_queries
):
    lists = [audience(1, name=f"L{n}", start=n) for n in range(2)]
    segment = Segment.objects.create(tenant=tenant, name="All", filters={})

    def add(count: int) -> list[Campaign]:
        return [
            make_campaign(name=f"C{Campaign.objects.count()}", lists=lists, segments=[segment])
            for _ in range(count)
        ]

    first = add(3)
    do_launch_campaign(first[0])
    call(client, "get", "/me", api_token)  # last_used_at is fresh: no write below
    with django_assert_max_num_queries(8) as few:
        small = call(client, "get", "/campaigns", api_token)
    add(20)
    with django_assert_max_num_queries(8) as many:
        big = call(client, "get", "/campaigns?limit=100", api_token)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert small.json()["count"] == 3 and big.json()["count"] == 23
    items = big.json()["items"]
    assert [c["name"] for c in items[:2]] == ["C22", "C21"]
    assert items[-1]["lists"] == sorted(lst.pk for lst in lists)
    assert items[-1]["segments"] == [segment.pk]
    running = call(client, "get", "/campaigns?status=running", api_token).json()
    assert [c["id"] for c in running["items"]] == [first[0].pk]
    assert_error(call(client, "get", "/campaigns?status=sleeping", api_token), 422, "invalid")


# --- Audience preview ---------------------------------------------------------------------------


def test_the_audience_preview_counts_who_is_sent_and_who_is_skipped(
    client, tenant, api_token, sms_inbox, sms_template, audience
):
    first = audience(3, name="First")
    second = do_create_list(tenant, name="Second")
    opted_out, *others = Contact.objects.filter(tenant=tenant).order_by("pk")
    do_set_consent(
        opted_out,
        channel="sms",
        sender=sms_inbox.address,
        status=Consent.Status.OPTED_OUT,
        source=Consent.Source.KEYWORD,
    )
    nowhere = Contact.objects.create(tenant=tenant, name="No phone", phone="")
    add_members(second, [others[0].pk, nowhere.pk])  # others[0] is in both lists
    response = call(
        client,
        "post",
        "/campaigns/audience-preview",
        api_token,
        {
            "inbox": sms_inbox.pk,
            "template": sms_template.pk,
            "lists": [first.pk, second.pk],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["total"], body["sendable"], body["skipped"]) == (5, 2, 3)
    assert body["skipped_by_reason"] == {"opted_out": 1, "invalid": 1, "duplicate": 1}
    assert {(e["contact_id"], e["reason"]) for e in body["examples"]} == {
        (opted_out.pk, "opted_out"),
        (others[0].pk, "duplicate"),
        (nowhere.pk, "invalid"),
    }
    assert not Campaign.objects.exists()


# --- Permissions --------------------------------------------------------------------------------


def test_each_route_needs_its_permission(client, tenant, make_campaign, audience, sms_template):
    campaign = make_campaign(lists=[audience(1)])
    agent = token_for(tenant, "agent")  # sees campaigns and templates, changes neither
    assert call(client, "get", "/campaigns", agent).status_code == 200
    assert call(client, "get", f"/campaigns/{campaign.pk}/stats", agent).status_code == 200
    assert call(client, "get", "/templates", agent).status_code == 200
    for method, path, body, codename in (
        ("post", "/campaigns", {"name": "X", "inbox": 1, "template": 1}, "campaigns.edit"),
        ("patch", f"/campaigns/{campaign.pk}", {"name": "Mine"}, "campaigns.edit"),
        ("delete", f"/campaigns/{campaign.pk}", None, "campaigns.edit"),
        ("post", f"/campaigns/{campaign.pk}/launch", None, "campaigns.launch"),
        ("post", f"/campaigns/{campaign.pk}/cancel", None, "campaigns.launch"),
        ("post", "/templates", {"name": "X", "channel": "sms"}, "templates.manage"),
        ("patch", f"/templates/{sms_template.pk}", {"body": "Hi"}, "templates.manage"),
        ("delete", f"/templates/{sms_template.pk}", None, "templates.manage"),
    ):
        err = assert_error(call(client, method, path, agent, body), 403, "forbidden")
        assert err["permission"] == codename, (method, path)
    editor = do_create_role(
        tenant, name="Editor", codenames=["campaigns.view", "campaigns.edit", "templates.view"]
    )
    _, raw = do_create_api_token(tenant, name="editor", role=editor)
    assert (
        call(client, "patch", f"/campaigns/{campaign.pk}", raw, {"name": "OK"}).status_code == 200
    )
    launch = call(client, "post", f"/campaigns/{campaign.pk}/launch", raw)
    assert assert_error(launch, 403, "forbidden")["permission"] == "campaigns.launch"
    blind = do_create_role(tenant, name="Templates only", codenames=["templates.view"])
    _, raw = do_create_api_token(tenant, name="blind", role=blind)
    assert (
        assert_error(call(client, "get", "/campaigns", raw), 403, "forbidden")["permission"]
        == "campaigns.view"
    )
    (contact,) = make_contacts(tenant, 1, start=50)
    preview = call(client, "post", f"/templates/{sms_template.pk}/preview", raw, {"contact_id": 1})
    assert assert_error(preview, 403, "forbidden")["permission"] == "contacts.view"
    campaign.refresh_from_db()
    assert (campaign.status, campaign.name) == (S.DRAFT, "OK")
    assert contact.pk


# --- Tenancy ------------------------------------------------------------------------------------


def test_another_tenant_can_neither_see_nor_touch_nor_use_our_rows(
    client, tenant, other_tenant, make_campaign, audience, sms_inbox, sms_template, twilio_inbox
):
    ours = audience(2)
    campaign = make_campaign(lists=[ours])
    (contact,) = make_contacts(tenant, 1, start=50)
    theirs = token_for(other_tenant)
    for method, path, body in (
        ("get", f"/campaigns/{campaign.pk}", None),
        ("patch", f"/campaigns/{campaign.pk}", {"name": "Mine"}),
        ("delete", f"/campaigns/{campaign.pk}", None),
        ("post", f"/campaigns/{campaign.pk}/launch", None),
        ("post", f"/campaigns/{campaign.pk}/pause", None),
        ("post", f"/campaigns/{campaign.pk}/resume", None),
        ("post", f"/campaigns/{campaign.pk}/cancel", None),
        ("get", f"/campaigns/{campaign.pk}/stats", None),
        ("get", f"/templates/{sms_template.pk}", None),
        ("patch", f"/templates/{sms_template.pk}", {"body": "Mine"}),
        ("delete", f"/templates/{sms_template.pk}", None),
        ("post", f"/templates/{sms_template.pk}/preview", {"contact_id": contact.pk}),
    ):
        assert_error(call(client, method, path, theirs, body), 404, "not_found")
    missing = call(client, "get", "/campaigns/987654", theirs)
    assert missing.json() == call(client, "get", f"/campaigns/{campaign.pk}", theirs).json()
    assert call(client, "get", "/campaigns", theirs).json() == {"items": [], "count": 0}
    assert call(client, "get", "/templates", theirs).json() == {"items": [], "count": 0}

    # Nor can they build on our inbox, template or list, nor preview our contact.
    their_template = do_save_template(other_tenant, name="Theirs", channel="sms", body="Hi")
    errors = assert_error(
        call(client, "post", "/campaigns", theirs, campaign_body(sms_inbox, sms_template, [ours])),
        422,
        "invalid",
    )["errors"]
    assert set(errors) == {"inbox", "template", "lists"}
    preview = call(
        client,
        "post",
        "/campaigns/audience-preview",
        theirs,
        {"inbox": sms_inbox.pk, "template": sms_template.pk, "lists": [ours.pk]},
    )
    assert set(assert_error(preview, 422, "invalid")["errors"]) == {"inbox", "lists"}
    their_preview = call(
        client,
        "post",
        f"/templates/{their_template.pk}/preview",
        theirs,
        {"contact_id": contact.pk},
    )
    assert_error(their_preview, 404, "not_found")

    campaign.refresh_from_db()
    assert (campaign.status, campaign.name, campaign.total) == (S.DRAFT, "Winter sale", 0)
    assert MessageTemplate.objects.get(pk=sms_template.pk).body == sms_template.body
    assert not Campaign.objects.filter(tenant=other_tenant).exists()


# --- Docs ---------------------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_campaign_routes(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/campaigns",
        "/api/v1/campaigns/audience-preview",
        "/api/v1/campaigns/{campaign_id}/stats",
        "/api/v1/templates/{template_id}/preview",
    } <= set(paths)
    launch = paths["/api/v1/campaigns/{campaign_id}/launch"]["post"]
    assert launch["tags"] == ["campaigns"] and "campaigns.launch" in launch["description"]


def test_the_stats_schema_has_every_number_the_stats_give():
    assert set(StatsOut.model_fields) == {f.name for f in dataclasses.fields(Stats)}

"""Settings → Labels & canned responses: list, create, edit and delete through the real views
and actions; who may do what; another tenant's rows are not found."""

import pytest

from inbox.actions.labels import do_create_canned_response, do_label_conversation
from inbox.models import CannedResponse
from omnichannel.labels import do_create_label
from omnichannel.models import Label
from tests.inbox.api_factories import make_conversation, make_inbox

pytestmark = pytest.mark.django_db

PAGE = "/settings/labels/"


def test_the_page_lists_labels_and_canned_responses_and_is_in_the_navigation(tenant, owner, login):
    label = do_create_label(tenant, name="VIP", color="green")
    do_label_conversation(make_conversation(make_inbox(tenant)), label)
    do_create_canned_response(tenant, shortcut="refund", title="Refund policy", body="We refund.")

    response = login(owner).get(PAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<a href="{PAGE}" aria-current="page">Labels &amp; canned responses</a>' in html
    assert 'class="label-chip label-green">VIP</span>' in html
    assert "/refund" in html and "Refund policy" in html
    assert 'id="label-form"' in html and 'id="canned-form"' in html


def test_an_owner_creates_and_deletes_a_label(tenant, owner, login):
    client = login(owner)

    created = client.post("/settings/labels/new/", {"name": "  Late  payer ", "color": "orange"})
    label = Label.objects.get(tenant=tenant)
    deleted = client.post(f"/settings/labels/{label.pk}/delete/")

    assert created.status_code == 302 and created["Location"] == PAGE
    assert (label.name, label.color) == ("Late payer", "orange")
    assert deleted.status_code == 302
    assert not Label.objects.exists()


def test_a_duplicate_label_name_shows_the_actions_message(tenant, owner, login):
    do_create_label(tenant, name="VIP")

    response = login(owner).post("/settings/labels/new/", {"name": "vip", "color": "blue"})

    assert response.status_code == 409
    assert "There is already a label called" in response.content.decode()
    assert Label.objects.count() == 1


def test_an_unknown_colour_is_refused(tenant, owner, login):
    response = login(owner).post("/settings/labels/new/", {"name": "X", "color": "black"})

    assert response.status_code == 400
    assert not Label.objects.exists()


def test_canned_responses_are_created_edited_and_deleted(tenant, owner, login):
    client = login(owner)

    created = client.post(
        "/settings/canned-responses/new/",
        {"shortcut": "/Refund", "title": "Refund policy", "body": "We refund within 14 days."},
    )
    canned = CannedResponse.objects.get(tenant=tenant)
    edit_page = client.get(f"/settings/canned-responses/{canned.pk}/").content.decode()
    edited = client.post(
        f"/settings/canned-responses/{canned.pk}/",
        {"shortcut": "refunds", "title": "Refunds", "body": "Within 30 days."},
    )
    canned.refresh_from_db()
    deleted = client.post(f"/settings/canned-responses/{canned.pk}/delete/")

    assert created.status_code == 302 and created["Location"] == PAGE
    assert "Edit /refund" in edit_page and "We refund within 14 days." in edit_page
    assert edited.status_code == 302
    assert (canned.shortcut, canned.title, canned.body) == ("refunds", "Refunds", "Within 30 days.")
    assert deleted.status_code == 302
    assert not CannedResponse.objects.exists()


def test_a_taken_shortcut_or_bad_shortcut_shows_the_actions_message(tenant, owner, login):
    do_create_canned_response(tenant, shortcut="hours", title="Hours", body="9 to 5.")
    client = login(owner)

    taken = client.post(
        "/settings/canned-responses/new/", {"shortcut": "HOURS", "title": "T", "body": "B"}
    )
    bad = client.post(
        "/settings/canned-responses/new/", {"shortcut": "two words", "title": "T", "body": "B"}
    )

    assert taken.status_code == 409
    assert "The shortcut /hours is already taken." in taken.content.decode()
    assert bad.status_code == 400
    assert "A shortcut is up to" in bad.content.decode()
    assert CannedResponse.objects.count() == 1


def test_a_supervisor_manages_canned_responses_but_not_labels(tenant, make_member, login):
    supervisor = make_member(tenant, "supervisor")
    label = do_create_label(tenant, name="VIP")
    client = login(supervisor)

    page = client.get(PAGE)
    created = client.post(
        "/settings/canned-responses/new/", {"shortcut": "hi", "title": "Hi", "body": "Hello!"}
    )

    assert page.status_code == 200
    assert 'id="label-form"' not in page.content.decode()
    assert created.status_code == 302
    assert client.post("/settings/labels/new/", {"name": "X", "color": "red"}).status_code == 403
    assert client.post(f"/settings/labels/{label.pk}/delete/").status_code == 403
    assert Label.objects.count() == 1


def test_an_agent_cannot_see_or_change_the_page(tenant, make_member, login):
    agent = make_member(tenant, "agent")
    canned = do_create_canned_response(tenant, shortcut="hi", title="Hi", body="Hello!")
    client = login(agent)

    assert client.get(PAGE).status_code == 403
    assert "Labels &amp; canned responses" not in client.get("/settings/general/").content.decode()
    assert (
        client.post(
            "/settings/canned-responses/new/", {"shortcut": "x", "title": "X", "body": "X"}
        ).status_code
        == 403
    )
    assert client.post(f"/settings/canned-responses/{canned.pk}/delete/").status_code == 403
    assert CannedResponse.objects.count() == 1


def test_another_tenants_rows_are_not_found(tenant, other_tenant, owner, login):
    their_label = do_create_label(other_tenant, name="Theirs")
    their_canned = do_create_canned_response(other_tenant, shortcut="x", title="X", body="X")
    client = login(owner)

    assert client.post(f"/settings/labels/{their_label.pk}/delete/").status_code == 404
    assert client.get(f"/settings/canned-responses/{their_canned.pk}/").status_code == 404
    edit = client.post(
        f"/settings/canned-responses/{their_canned.pk}/",
        {"shortcut": "y", "title": "Y", "body": "Y"},
    )
    assert edit.status_code == 404
    assert client.post(f"/settings/canned-responses/{their_canned.pk}/delete/").status_code == 404
    assert "Theirs" not in client.get(PAGE).content.decode()
    assert Label.objects.filter(tenant=other_tenant).exists()
    assert CannedResponse.objects.get(pk=their_canned.pk).shortcut == "x"


def test_a_canned_response_with_an_unknown_variable_is_refused_with_the_reason(
    tenant, owner, login
):
    client = login(owner)

    refused = client.post(
        "/settings/canned-responses/new/",
        {"shortcut": "hi", "title": "Hi", "body": "Hi {{frstName}}"},
    )

    assert refused.status_code == 400
    assert "unknown variable “frstName”" in refused.content.decode()
    assert "Hi {{frstName}}</textarea>" in refused.content.decode()  # kept to correct
    assert not CannedResponse.objects.exists()

"""Lists, segments and bulk operations through the JSON API (contacts.api_lists)."""

import pytest

from contacts.models import (
    BulkOperation,
    Contact,
    ContactLabel,
    ContactList,
    JobStatus,
    ListMembership,
    Segment,
)
from omnichannel.actions import do_create_api_token
from omnichannel.models import Role
from tests.contacts.test_filters import define, make_contact, make_label, make_list
from tests.inbox.api_factories import assert_error, bearer, token_for

pytestmark = pytest.mark.django_db


def call(client, method: str, path: str, raw: str, body=None):
    kwargs = {"content_type": "application/json"} if body is not None else {}
    return getattr(client, method)(f"/api/v1{path}", data=body, **kwargs, **bearer(raw))


# --- Lists --------------------------------------------------------------------------------------


def test_it_creates_reads_renames_and_deletes_lists(client, tenant, api_token):
    created = call(
        client, "post", "/contacts/lists", api_token, {"name": "Fair", "description": "2025"}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Fair" and body["member_count"] == 0
    list_id = body["id"]
    assert call(client, "get", "/contacts/lists", api_token).json()["items"][0]["id"] == list_id
    renamed = call(client, "patch", f"/contacts/lists/{list_id}", api_token, {"name": "Fair 2025"})
    assert renamed.json()["name"] == "Fair 2025" and renamed.json()["description"] == "2025"
    assert_error(
        call(client, "post", "/contacts/lists", api_token, {"name": "FAIR 2025"}), 409, "conflict"
    )
    assert call(client, "delete", f"/contacts/lists/{list_id}", api_token).status_code == 204
    assert not ContactList.objects.exists()


def test_it_adds_and_removes_members_idempotently(client, tenant, other_tenant, api_token):
    ana, beto = make_contact(tenant, "Ana"), make_contact(tenant, "Beto")
    theirs = make_contact(other_tenant, "Theirs")
    contact_list = make_list(tenant, "VIP")
    path = f"/contacts/lists/{contact_list.pk}/members"
    first = call(client, "post", path, api_token, {"add": [ana.pk, beto.pk, theirs.pk]})
    assert first.json() == {"added": 2, "removed": 0, "member_count": 2}
    again = call(client, "post", path, api_token, {"add": [ana.pk], "remove": [beto.pk]})
    assert again.json() == {"added": 0, "removed": 1, "member_count": 1}
    page = call(client, "get", f"/contacts/lists/{contact_list.pk}/contacts", api_token).json()
    assert page["count"] == 1 and [c["name"] for c in page["items"]] == ["Ana"]
    assert not ListMembership.objects.filter(contact=theirs).exists()


# --- Segments -----------------------------------------------------------------------------------


def test_it_saves_previews_and_lists_a_segments_contacts(client, tenant, api_token):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    define(tenant, "visits", "number")
    for name, plan, visits in (("Ana", "gold", 12), ("Beto", "gold", 2), ("Carla", "silver", 40)):
        make_contact(tenant, name, attributes={"plan": plan, "visits": visits})
    filters = {
        "attributes": [
            {"key": "plan", "op": "eq", "value": "gold"},
            {"key": "visits", "op": "gt", "value": "10"},
        ]
    }
    preview = call(client, "post", "/contacts/segments/preview", api_token, {"filters": filters})
    assert preview.status_code == 200, preview.content
    assert preview.json()["count"] == 1 and preview.json()["items"][0]["name"] == "Ana"
    created = call(
        client, "post", "/contacts/segments", api_token, {"name": "Loyal gold", "filters": filters}
    )
    assert created.status_code == 201, created.content
    segment = created.json()
    assert segment["filters"]["attributes"][1]["value"] == 10
    members = call(client, "get", f"/contacts/segments/{segment['id']}/contacts", api_token).json()
    assert members["count"] == 1 and [c["name"] for c in members["items"]] == ["Ana"]
    patched = call(
        client,
        "patch",
        f"/contacts/segments/{segment['id']}",
        api_token,
        {"filters": {"attributes": [{"key": "plan", "value": "gold"}]}},
    )
    assert patched.json()["name"] == "Loyal gold"
    members = call(client, "get", f"/contacts/segments/{segment['id']}/contacts", api_token).json()
    assert members["count"] == 2
    assert (
        call(client, "delete", f"/contacts/segments/{segment['id']}", api_token).status_code == 204
    )
    assert not Segment.objects.exists()


def test_an_invalid_filter_answers_422_field_by_field(client, tenant, api_token):
    define(tenant, "visits", "number")
    response = call(
        client,
        "post",
        "/contacts/segments",
        api_token,
        {
            "name": "Bad",
            "filters": {
                "attributes": [{"key": "visits", "op": "gt", "value": "lots"}],
                "consent": {"channel": "fax", "status": "opted_out"},
            },
        },
    )
    error = assert_error(response, 422, "invalid")
    assert error["errors"]["filters.attributes[0].value"] == "“lots” is not a number"
    assert error["errors"]["filters.consent.channel"].startswith("choose a channel (sms, ")
    assert not Segment.objects.exists()


def test_segment_pages_follow_the_cursor(client, tenant, api_token):
    for n in range(5):
        make_contact(tenant, f"P{n}")
    segment = Segment.objects.create(tenant=tenant, name="All", filters={})
    path = f"/contacts/segments/{segment.pk}/contacts?limit=2"
    seen, cursor = [], None
    while True:
        page = call(client, "get", path + (f"&cursor={cursor}" if cursor else ""), api_token).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert page["count"] is None or page["count"] == 5
    assert sorted(seen) == sorted(Contact.objects.values_list("pk", flat=True))
    assert len(seen) == 5
    assert_error(call(client, "get", path + "&cursor=nope", api_token), 400, "invalid")


# --- Bulk operations ----------------------------------------------------------------------------


def test_a_bulk_operation_on_a_filter_answers_202_and_reports_progress(
    client, tenant, api_token, eager_tasks, django_capture_on_commit_callbacks
):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    gold = [make_contact(tenant, f"Gold {n}", attributes={"plan": "gold"}) for n in range(3)]
    make_contact(tenant, "Silver", attributes={"plan": "silver"})
    label = make_label(tenant, "Gold club")
    with django_capture_on_commit_callbacks(execute=True):
        response = call(
            client,
            "post",
            "/contacts/bulk",
            api_token,
            {
                "action": "label",
                "params": {"label_id": label.pk},
                "filters": {"attributes": [{"key": "plan", "value": "gold"}]},
            },
        )
    assert response.status_code == 202, response.content
    started = response.json()
    assert started["status"] == "pending" and started["total"] == 3
    progress = call(client, "get", f"/contacts/bulk/{started['id']}", api_token).json()
    assert progress["status"] == "done"
    assert (progress["processed"], progress["changed"], progress["unchanged"]) == (3, 3, 0)
    assert set(label_contacts(label)) == {c.pk for c in gold}
    listing = call(client, "get", "/contacts/bulk", api_token).json()
    assert [item["id"] for item in listing["items"]] == [started["id"]]
    assert_error(
        call(client, "post", f"/contacts/bulk/{started['id']}/cancel", api_token), 409, "conflict"
    )


def label_contacts(label) -> list[int]:
    return list(ContactLabel.objects.filter(label=label).values_list("contact_id", flat=True))


def test_a_bad_bulk_request_answers_422_or_400(client, tenant, api_token):
    ana = make_contact(tenant, "Ana")
    missing = call(
        client, "post", "/contacts/bulk", api_token, {"action": "add_to_list", "ids": [ana.pk]}
    )
    assert assert_error(missing, 422, "invalid")["errors"] == {"params.list_id": "choose one"}
    both = call(
        client, "post", "/contacts/bulk", api_token, {"action": "delete", "ids": [1], "filters": {}}
    )
    assert "ids" in assert_error(both, 422, "invalid")["errors"]
    bad_filter = call(
        client,
        "post",
        "/contacts/bulk",
        api_token,
        {"action": "delete", "filters": {"lists": [999]}},
    )
    assert assert_error(bad_filter, 422, "invalid")["errors"] == {
        "filters.lists": "no list with id 999"
    }
    nothing = call(
        client, "post", "/contacts/bulk", api_token, {"action": "delete", "ids": [987654]}
    )
    assert_error(nothing, 400, "invalid")
    assert_error(
        call(client, "post", "/contacts/bulk", api_token, {"action": "paint"}), 422, "invalid"
    )
    assert not BulkOperation.objects.exists()


def test_bulk_operations_need_their_permissions(client, tenant, make_member):
    ana = make_contact(tenant, "Ana")
    agent_token = token_for(tenant, "agent")  # may edit contacts, not run bulk operations
    body = {"action": "delete", "ids": [ana.pk]}
    denied = assert_error(
        call(client, "post", "/contacts/bulk", agent_token, body), 403, "forbidden"
    )
    assert denied["permission"] == "contacts.bulk"
    role = Role.objects.create(
        tenant=tenant,
        name="Bulk editor",
        permissions=["contacts.view", "contacts.edit", "contacts.bulk"],
    )
    _, raw = do_create_api_token(tenant, name="bulk", role=role)
    no_delete = assert_error(call(client, "post", "/contacts/bulk", raw, body), 403, "forbidden")
    assert no_delete["permission"] == "contacts.delete"
    viewer = token_for(tenant, "viewer")
    assert_error(call(client, "post", "/contacts/lists", viewer, {"name": "X"}), 403, "forbidden")
    assert Contact.objects.filter(pk=ana.pk).exists()


def test_another_tenants_rows_answer_404_and_their_contacts_are_ignored(
    client, tenant, other_tenant, api_token
):
    theirs = make_contact(other_tenant, "Theirs")
    their_list = make_list(other_tenant, "Theirs", theirs)
    their_segment = Segment.objects.create(tenant=other_tenant, name="Theirs", filters={})
    their_operation = BulkOperation.objects.create(
        tenant=other_tenant, action="delete", contact_ids=[theirs.pk], total=1
    )
    for method, path, body in (
        ("get", f"/contacts/lists/{their_list.pk}", None),
        ("patch", f"/contacts/lists/{their_list.pk}", {"name": "Mine"}),
        ("delete", f"/contacts/lists/{their_list.pk}", None),
        ("post", f"/contacts/lists/{their_list.pk}/members", {"remove": [theirs.pk]}),
        ("get", f"/contacts/lists/{their_list.pk}/contacts", None),
        ("get", f"/contacts/segments/{their_segment.pk}", None),
        ("patch", f"/contacts/segments/{their_segment.pk}", {"name": "Mine"}),
        ("delete", f"/contacts/segments/{their_segment.pk}", None),
        ("get", f"/contacts/segments/{their_segment.pk}/contacts", None),
        ("get", f"/contacts/bulk/{their_operation.pk}", None),
        ("post", f"/contacts/bulk/{their_operation.pk}/cancel", None),
    ):
        assert_error(call(client, method, path, api_token, body), 404, "not_found")
    assert call(client, "get", "/contacts/lists", api_token).json()["items"] == []
    assert call(client, "get", "/contacts/bulk", api_token).json()["items"] == []
    # Their contacts cannot be selected, and their list is not a filter of ours.
    nothing = call(
        client, "post", "/contacts/bulk", api_token, {"action": "delete", "ids": [theirs.pk]}
    )
    assert_error(nothing, 400, "invalid")
    by_list = call(
        client,
        "post",
        "/contacts/bulk",
        api_token,
        {"action": "delete", "filters": {"lists": [their_list.pk]}},
    )
    assert_error(by_list, 422, "invalid")
    assert Contact.objects.filter(pk=theirs.pk).exists()
    assert ListMembership.objects.filter(contact_list=their_list).count() == 1
    their_operation.refresh_from_db()
    assert their_operation.status == JobStatus.PENDING

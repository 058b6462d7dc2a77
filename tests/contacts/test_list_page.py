"""The contacts pages in the browser, without JavaScript: the list (search, filters, keyset
pages, selection, bulk actions, save as segment), lists, segments and bulk operations."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from contacts.bulk import do_start_bulk_operation, run_bulk_operation
from contacts.models import BulkOperation, Contact, ContactList, JobStatus, ListMembership, Segment
from tests.contacts.test_filters import define, make_contact, make_label, make_list

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def rows(response) -> list[str]:
    """The names in the list's rows, in order."""
    html = response.content.decode()
    return re.findall(
        r'<tr id="contact-\d+">.*?<a href="/contacts/\d+/"[^>]*>([^<]*)</a>', html, re.S
    )


def make_many(tenant, count: int, *, start: int = 0, **fields) -> list[Contact]:
    now = timezone.now()
    return [
        make_contact(
            tenant,
            f"Person {n:03d}",
            phone=f"+1415555{n:04d}",
            email=f"person{n}@example.test",
            created_at=now - timedelta(minutes=n),
            **fields,
        )
        for n in range(start, start + count)
    ]


# --- The list -----------------------------------------------------------------------------------


def test_it_lists_contacts_newest_first_with_their_details(tenant, owner, login):
    ana = make_contact(
        tenant,
        "Ana García",
        phone="+14155550111",
        email="ana@example.test",
        created_at=timezone.now(),
    )
    make_contact(tenant, "Beto", created_at=timezone.now() - timedelta(days=1))
    make_label(tenant, "VIP", ana, color="red")
    response = login(owner).get("/contacts/")
    assert response.status_code == 200
    html = response.content.decode()
    assert rows(response) == ["Ana García", "Beto"]
    assert f'href="/contacts/{ana.pk}/"' in html
    assert ">AG</span>" in html  # initials avatar
    assert "(415) 555-0111" in html  # formatted phone, national in a US tenant
    assert "ana@example.test" in html
    assert '<span class="label-chip label-red">VIP</span>' in html
    assert "2 contacts." in html
    assert 'aria-current="page">Contacts</a>' in html  # the main navigation
    # The contacts area's tabs lead to the other contacts pages the role may use.
    for tab in ("/contacts/lists/", "/contacts/segments/", "/contacts/bulk/", "/contacts/import/"):
        assert f'href="{tab}"' in html


def test_it_renders_the_list_in_a_fixed_number_of_queries(
    tenant, owner, login, django_assert_max_num_queries
):
    client = login(owner)
    define(tenant, "plan", "choice", choices=["gold"])
    vip, late = make_label(tenant, "VIP"), make_label(tenant, "Late")
    make_list(tenant, "Newsletter")
    filtered = f"/contacts/?q=person&attr_key=plan&attr_op=neq&attr_value=gold&label={vip.pk}"

    def count(url: str) -> int:
        with django_assert_max_num_queries(14) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    client.get("/contacts/")  # the first page view after signing in also settles the session

    for contact in make_many(tenant, 3):
        make_label(tenant, f"Own {contact.pk}", contact)
        contact.label_links.create(tenant=tenant, label=vip)
    few, few_filtered = count("/contacts/"), count(filtered)
    for contact in make_many(tenant, 60, start=3):
        for label in (vip, late):
            contact.label_links.create(tenant=tenant, label=label)
    many, many_filtered = count("/contacts/"), count(filtered)
    assert few == many
    assert few_filtered == many_filtered


def test_it_pages_by_keyset_without_gaps_or_repeats(tenant, owner, login):
    make_many(tenant, 120)
    client = login(owner)
    first = client.get("/contacts/?q=person")
    assert len(rows(first)) == 50
    cursor = re.search(r"cursor=([\w-]+)", first.content.decode()).group(1)
    second = client.get(f"/contacts/?q=person&cursor={cursor}", headers={"HX-Request": "true"})
    assert second.status_code == 200
    assert "<html" not in second.content.decode()  # only the rows and the "more" row
    cursor = re.search(r"cursor=([\w-]+)", second.content.decode()).group(1)
    third = client.get(f"/contacts/?q=person&cursor={cursor}")  # without JavaScript: a page
    seen = rows(first) + rows(second) + rows(third)
    assert seen == [f"Person {n:03d}" for n in range(120)]
    assert "cursor=" not in third.content.decode().split("contact-table")[-1]
    assert client.get("/contacts/?cursor=garbage").status_code == 400


def test_it_searches_and_filters_from_the_query_string(tenant, owner, login):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    make_contact(tenant, "Ana", phone="+525512345678", attributes={"plan": "gold"})
    make_contact(tenant, "Beto", phone="+14155550111", attributes={"plan": "silver"})
    newsletter = make_list(tenant, "Newsletter", make_contact(tenant, "Carla"))
    client = login(owner)
    assert rows(client.get("/contacts/?q=55+1234")) == ["Ana"]
    gold = client.get("/contacts/?attr_key=plan&attr_op=eq&attr_value=gold&attr_key=&attr_op=eq")
    assert rows(gold) == ["Ana"]
    assert "Plan is gold" in gold.content.decode()
    assert rows(client.get(f"/contacts/?list={newsletter.pk}")) == ["Carla"]


def test_an_invalid_filter_is_explained_not_ignored(tenant, owner, login):
    define(tenant, "visits", "number")
    make_contact(tenant, "Ana")
    response = login(owner).get("/contacts/?attr_key=visits&attr_op=gt&attr_value=lots")
    assert response.status_code == 400
    html = response.content.decode()
    assert "“lots” is not a number" in html
    assert rows(response) == []


# --- Bulk operations from the list --------------------------------------------------------------


def test_selected_contacts_get_a_bulk_action_and_its_progress_page(
    tenant, owner, login, eager_tasks, django_capture_on_commit_callbacks
):
    ana, _beto, carla = (make_contact(tenant, n) for n in ("Ana", "Beto", "Carla"))
    vip = make_list(tenant, "VIP")
    client = login(owner)
    html = client.get("/contacts/").content.decode()
    assert 'id="bulk-form"' in html and 'form="bulk-form"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/contacts/bulk/start/",
            {
                "ids": [ana.pk, carla.pk],
                "scope": "selected",
                "action": "add_to_list",
                "list_id": vip.pk,
                "filter_query": "",
            },
        )
    operation = BulkOperation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/bulk/{operation.pk}/"
    assert set(ListMembership.objects.values_list("contact_id", flat=True)) == {ana.pk, carla.pk}
    page = client.get(response["Location"]).content.decode()
    assert f'<div id="bulk-{operation.pk}-progress"' in page
    assert "Add to the list “VIP”" in page
    assert "2 of 2 contacts handled" in page
    assert "2 changed, 0 needed no change" in page


def test_everything_matching_a_filter_is_confirmed_first(
    tenant, owner, login, eager_tasks, django_capture_on_commit_callbacks
):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    define(tenant, "tier", "number")
    for name, plan in (("Ana", "gold"), ("Beto", "silver"), ("Carla", "gold")):
        make_contact(tenant, name, attributes={"plan": plan})
    client = login(owner)
    query = "attr_key=plan&attr_op=eq&attr_value=gold"
    fields = {
        "scope": "all",
        "action": "set_attribute",
        "attribute_key": "tier",
        "attribute_value": "2",
        "filter_query": query,
    }
    confirm = client.post("/contacts/bulk/start/", fields)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Set Tier to 2?" in html and "<strong>2 contacts</strong>" in html
    assert not BulkOperation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/contacts/bulk/start/", {**fields, "confirmed": "1"})
    assert started.status_code == 302
    tiers = dict(Contact.objects.values_list("name", "attributes__tier"))
    assert tiers == {"Ana": 2, "Beto": None, "Carla": 2}


def test_a_bad_bulk_request_goes_back_to_the_list_with_the_reason(tenant, owner, login):
    ana = make_contact(tenant, "Ana")
    client = login(owner)
    response = client.post(
        "/contacts/bulk/start/",
        {"ids": [ana.pk], "scope": "selected", "action": "add_to_list", "filter_query": "q=ana"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/contacts/?q=ana"
    assert "params.list_id: choose one" in response.content.decode()
    empty = client.post(
        "/contacts/bulk/start/", {"scope": "selected", "action": "delete"}, follow=True
    )
    assert "Select some contacts first" in empty.content.decode()
    assert not BulkOperation.objects.exists()


def test_the_progress_page_shows_the_state_in_the_database(tenant, owner, login):
    define(tenant, "tier", "number")
    define(tenant, "region", "text", is_required=True)
    make_contact(tenant, "Ana", attributes={"region": "North"})
    make_contact(tenant, "Beto")
    operation = do_start_bulk_operation(
        tenant,
        action="set_attribute",
        params={"key": "tier", "value": 1},
        filters={},
        acting_user=owner,
    )
    client = login(owner)
    pending = client.get(f"/contacts/bulk/{operation.pk}/").content.decode()
    assert "Waiting to start" in pending and "0 of 2 contacts handled" in pending
    assert f'action="/contacts/bulk/{operation.pk}/cancel/"' in pending
    run_bulk_operation(operation.pk, batch_size=1, max_batches=1)
    halfway = client.get(f"/contacts/bulk/{operation.pk}/").content.decode()
    assert "Running" in halfway and "1 of 2 contacts handled" in halfway
    run_bulk_operation(operation.pk)
    done = client.get(f"/contacts/bulk/{operation.pk}/").content.decode()
    assert "1 changed, 0 needed no change, 1 could not be changed" in done
    assert "region: is required" in done
    assert "/cancel/" not in done
    listing = client.get("/contacts/bulk/").content.decode()
    assert "Set Tier to 1" in listing and f'href="/contacts/bulk/{operation.pk}/"' in listing


def test_an_operation_is_cancelled_from_its_page(tenant, owner, login):
    make_contact(tenant, "Ana")
    vip = make_list(tenant, "VIP")
    start = {"action": "add_to_list", "params": {"list_id": vip.pk}, "filters": {}}
    operation = do_start_bulk_operation(tenant, **start)
    client = login(owner)
    page = client.get(f"/contacts/bulk/{operation.pk}/").content.decode()
    assert "csrfmiddlewaretoken" in page.split("bulk-cancel")[1]  # works without JavaScript
    response = client.post(f"/contacts/bulk/{operation.pk}/cancel/", follow=True)
    assert "Cancelled: the batches already done stay done." in response.content.decode()
    assert BulkOperation.objects.get(pk=operation.pk).status == JobStatus.CANCELLED
    again = client.post(f"/contacts/bulk/{operation.pk}/cancel/", follow=True)
    assert "cancelled already" in again.content.decode()
    # With htmx the progress block is swapped in place.
    second = do_start_bulk_operation(tenant, **start)
    swapped = client.post(f"/contacts/bulk/{second.pk}/cancel/", headers={"HX-Request": "true"})
    html = swapped.content.decode()
    assert swapped.status_code == 200
    assert html.strip().startswith(f'<div id="bulk-{second.pk}-progress"') and "<html" not in html
    assert "Cancelled after 0 contacts." in html and "bulk-cancel" not in html


# --- Segments and lists -------------------------------------------------------------------------


def test_a_filtered_list_is_saved_as_a_segment_and_reopened(tenant, owner, login):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    make_contact(tenant, "Ana", attributes={"plan": "gold"})
    make_contact(tenant, "Beto", attributes={"plan": "silver"})
    client = login(owner)
    query = "attr_key=plan&attr_op=eq&attr_value=gold"
    response = client.post("/contacts/segments/create/", {"name": "Gold", "filter_query": query})
    segment = Segment.objects.get()
    assert response["Location"] == f"/contacts/?segment={segment.pk}"
    assert segment.filters == {"attributes": [{"key": "plan", "op": "eq", "value": "gold"}]}
    reopened = client.get(response["Location"])
    assert rows(reopened) == ["Ana"]
    assert "Segment: Gold" in reopened.content.decode()
    # Change the filter on the page, save it back into the segment.
    silver = urlencode({"segment": segment.pk, "attr_key": "plan", "attr_value": "silver"})
    client.post(f"/contacts/segments/{segment.pk}/edit/", {"filter_query": silver})
    segment.refresh_from_db()
    assert segment.filters["attributes"][0]["value"] == "silver"
    assert rows(client.get(f"/contacts/?segment={segment.pk}")) == ["Beto"]


def test_the_segments_page_lists_renames_counts_and_deletes(tenant, owner, login):
    define(tenant, "plan", "choice", choices=["gold"])
    make_contact(tenant, "Ana", attributes={"plan": "gold"})
    client = login(owner)
    client.post(
        "/contacts/segments/create/",
        {"name": "Gold", "filter_query": "attr_key=plan&attr_value=gold"},
    )
    segment = Segment.objects.get()
    page = client.get("/contacts/segments/").content.decode()
    assert "Plan is gold" in page and f"/contacts/segments/{segment.pk}/count/" in page
    count = client.get(f"/contacts/segments/{segment.pk}/count/", headers={"HX-Request": "true"})
    assert ">1 contact</a>" in count.content.decode()
    client.post(f"/contacts/segments/{segment.pk}/edit/", {"name": "Gold club", "description": "x"})
    assert Segment.objects.get().name == "Gold club"
    client.post(f"/contacts/segments/{segment.pk}/delete/")
    assert not Segment.objects.exists()


def test_the_lists_page_creates_renames_and_deletes(tenant, owner, login):
    client = login(owner)
    response = client.post("/contacts/lists/create/", {"name": "Fair", "description": "Visitors"})
    assert response["Location"] == "/contacts/lists/"
    contact_list = ContactList.objects.get()
    make_list(tenant, "Other")
    ListMembership.objects.create(
        tenant=tenant, contact_list=contact_list, contact=make_contact(tenant, "Ana")
    )
    page = client.get("/contacts/lists/").content.decode()
    assert f'href="/contacts/?list={contact_list.pk}">Fair</a>' in page
    assert "<td>1</td>" in page
    duplicate = client.post("/contacts/lists/create/", {"name": "fair"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.content.decode()
    client.post(
        f"/contacts/lists/{contact_list.pk}/edit/", {"name": "Fair 2025", "description": ""}
    )
    assert ContactList.objects.get(pk=contact_list.pk).name == "Fair 2025"
    client.post(f"/contacts/lists/{contact_list.pk}/delete/")
    assert list(ContactList.objects.values_list("name", flat=True)) == ["Other"]
    assert Contact.objects.filter(name="Ana").exists()


# --- Permissions and tenancy --------------------------------------------------------------------


def test_a_viewer_sees_but_cannot_change_or_run_bulk_operations(tenant, make_member, login):
    viewer = make_member(tenant, "viewer")
    contact_list = make_list(tenant, "VIP")
    client = login(viewer)
    html = client.get("/contacts/").content.decode()
    assert 'id="bulk-form"' not in html and "Save as segment" not in html
    assert 'href="/contacts/bulk/"' not in html and 'href="/contacts/import/"' not in html
    assert "New contact" not in html
    assert client.get("/contacts/lists/").status_code == 200
    assert client.post("/contacts/lists/create/", {"name": "X"}).status_code == 403
    assert client.post(f"/contacts/lists/{contact_list.pk}/delete/").status_code == 403
    assert client.post("/contacts/bulk/start/", {"action": "delete"}).status_code == 403
    assert client.get("/contacts/bulk/").status_code == 403


def test_bulk_delete_needs_the_delete_permission_too(tenant, make_member, login):
    from omnichannel.models import Role

    role = Role.objects.create(
        tenant=tenant,
        name="Bulk editor",
        permissions=["contacts.view", "contacts.bulk", "contacts.edit"],
    )
    user = make_member(tenant, role)
    ana = make_contact(tenant, "Ana")
    response = login(user).post(
        "/contacts/bulk/start/", {"ids": [ana.pk], "scope": "selected", "action": "delete"}
    )
    assert response.status_code == 403
    assert Contact.objects.filter(pk=ana.pk).exists()


def test_another_tenants_rows_answer_404_and_their_contacts_are_ignored(
    tenant, other_tenant, owner, login
):
    theirs = make_contact(other_tenant, "Theirs")
    their_list = make_list(other_tenant, "Theirs", theirs)
    their_segment = Segment.objects.create(tenant=other_tenant, name="Theirs", filters={})
    their_operation = BulkOperation.objects.create(
        tenant=other_tenant, action="delete", contact_ids=[theirs.pk], total=1
    )
    ours = make_contact(tenant, "Ours")
    client = login(owner)
    assert rows(client.get("/contacts/")) == ["Ours"]
    assert client.get(f"/contacts/?segment={their_segment.pk}").status_code == 404
    assert (
        client.post(f"/contacts/lists/{their_list.pk}/edit/", {"name": "Mine"}).status_code == 404
    )
    assert client.post(f"/contacts/lists/{their_list.pk}/delete/").status_code == 404
    assert client.post(f"/contacts/segments/{their_segment.pk}/delete/").status_code == 404
    assert client.get(f"/contacts/segments/{their_segment.pk}/count/").status_code == 404
    assert client.get(f"/contacts/bulk/{their_operation.pk}/").status_code == 404
    assert client.post(f"/contacts/bulk/{their_operation.pk}/cancel/").status_code == 404
    # Their list in our filter is refused like a missing one; their contacts in a selection
    # are dropped.
    assert client.get(f"/contacts/?list={their_list.pk}").status_code == 400
    vip = make_list(tenant, "VIP")
    client.post(
        "/contacts/bulk/start/",
        {
            "ids": [theirs.pk, ours.pk],
            "scope": "selected",
            "action": "add_to_list",
            "list_id": vip.pk,
        },
    )
    assert BulkOperation.objects.get(tenant=tenant).contact_ids == [ours.pk]
    assert ContactList.objects.get(pk=their_list.pk).name == "Theirs"
    assert Segment.objects.filter(pk=their_segment.pk).exists()

"""Labels and canned responses in the browser inbox: chips, the label filter, labelling a
conversation (htmx and without JavaScript) and the composer's ``/shortcut`` lookup."""

import re

import pytest

from contacts.models import AttributeDefinition
from inbox.actions.labels import do_create_canned_response, do_label_conversation
from inbox.models import ConversationLabel
from omnichannel.labels import do_create_label
from tests.inbox.api_factories import make_contact, make_conversation, make_inbox, make_message

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="conv-(\d+)"', html)]


@pytest.fixture
def conversation(tenant):
    conversation = make_conversation(make_inbox(tenant), make_contact(tenant, name="Ana"))
    make_message(conversation, direction="in", body="Hola")
    return conversation


@pytest.fixture
def vip(tenant):
    return do_create_label(tenant, name="VIP", color="red")


# --- chips and the filter -----------------------------------------------------------------------


def test_the_list_and_the_header_show_label_chips_in_the_labels_colour(
    conversation, vip, owner, login
):
    do_label_conversation(conversation, vip)
    client = login(owner)

    listing = client.get("/inbox/").content.decode()
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert 'class="label-chip label-red"' in listing and "VIP" in listing
    header = page.split('id="conversation-header"', 1)[1].split("</header>", 1)[0]
    assert 'class="label-chip label-red"' in header
    assert f'action="/inbox/c/{conversation.pk}/labels/{vip.pk}/remove/"' in header


def test_the_label_filter_keeps_the_other_filters(tenant, vip, owner, login):
    inbox = make_inbox(tenant)
    labelled_open = make_conversation(inbox)
    labelled_closed = make_conversation(inbox, status="closed")
    unlabelled = make_conversation(inbox)
    do_label_conversation(labelled_open, vip)
    do_label_conversation(labelled_closed, vip)
    client = login(owner)

    open_only = client.get(f"/inbox/?label={vip.pk}").content.decode()
    any_status = client.get(f"/inbox/?label={vip.pk}&status=any").content.decode()

    assert row_ids(open_only) == [labelled_open.pk]
    assert set(row_ids(any_status)) == {labelled_open.pk, labelled_closed.pk}
    assert unlabelled.pk not in row_ids(any_status)
    assert f'<option value="{vip.pk}" selected>VIP</option>' in open_only
    # The links of the rows carry the filter on.
    assert f"label={vip.pk}" in open_only.split('id="conversation-list"', 1)[1]


def test_the_label_filter_is_tenant_scoped(tenant, other_tenant, vip, owner, login):
    mine = make_conversation(make_inbox(tenant))
    do_label_conversation(mine, vip)
    theirs = make_conversation(make_inbox(other_tenant))
    their_label = do_create_label(other_tenant, name="Secret label")
    do_label_conversation(theirs, their_label)

    html = login(owner).get(f"/inbox/?label={their_label.pk}&status=any").content.decode()
    page = login(owner).get("/inbox/").content.decode()

    assert row_ids(html) == []
    assert "Secret label" not in html and "Secret label" not in page


# --- labelling a conversation -------------------------------------------------------------------


def test_an_agent_adds_a_label_through_htmx_and_gets_the_header_back(
    conversation, vip, tenant, make_member, login
):
    agent = make_member(tenant, "agent")

    response = login(agent).post(
        f"/inbox/c/{conversation.pk}/labels/", {"label": vip.pk}, headers=HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<header id="conversation-header"')
    assert 'class="label-chip label-red"' in html
    link = ConversationLabel.objects.get(conversation=conversation)
    assert (link.label, link.added_by, link.tenant_id) == (vip, agent, tenant.pk)
    # The label is no longer offered in the "add" select.
    assert f'<option value="{vip.pk}">' not in html


def test_without_javascript_adding_and_removing_redirect_to_the_conversation(
    conversation, vip, owner, login
):
    client = login(owner)

    added = client.post(
        f"/inbox/c/{conversation.pk}/labels/", {"label": vip.pk, "list": "view=mine"}
    )
    assert added.status_code == 302
    assert added["Location"] == f"/inbox/c/{conversation.pk}/?view=mine"
    assert list(conversation.labels.all()) == [vip]

    removed = client.post(f"/inbox/c/{conversation.pk}/labels/{vip.pk}/remove/")
    assert removed.status_code == 302
    assert not conversation.labels.exists()


def test_removing_a_label_through_htmx_answers_the_header_without_it(
    conversation, vip, owner, login
):
    do_label_conversation(conversation, vip)

    response = login(owner).post(
        f"/inbox/c/{conversation.pk}/labels/{vip.pk}/remove/", headers=HTMX
    )

    assert response.status_code == 200
    assert "label-chip" not in response.content.decode()
    assert not conversation.labels.exists()


def test_another_tenants_label_or_conversation_is_not_found(
    conversation, vip, tenant, other_tenant, owner, login
):
    their_label = do_create_label(other_tenant, name="Theirs")
    their_conversation = make_conversation(make_inbox(other_tenant))
    client = login(owner)

    assert (
        client.post(f"/inbox/c/{conversation.pk}/labels/", {"label": their_label.pk}).status_code
        == 404
    )
    assert (
        client.post(f"/inbox/c/{their_conversation.pk}/labels/", {"label": vip.pk}).status_code
        == 404
    )
    assert (
        client.post(f"/inbox/c/{conversation.pk}/labels/{their_label.pk}/remove/").status_code
        == 404
    )
    assert client.post(f"/inbox/c/{conversation.pk}/labels/", {"label": "x"}).status_code == 400
    assert not ConversationLabel.objects.exists()


def test_labelling_needs_conversations_manage(conversation, vip, tenant, make_member, login):
    viewer = make_member(tenant, "viewer")
    client = login(viewer)
    response = client.post(f"/inbox/c/{conversation.pk}/labels/", {"label": vip.pk})
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert response.status_code == 403
    assert not conversation.labels.exists()
    assert "label-add-form" not in page


# --- the composer's /shortcut lookup -------------------------------------------------------------


def test_the_canned_lookup_answers_matches_for_a_prefix(tenant, owner, login):
    do_create_canned_response(tenant, shortcut="refund", title="Refund policy", body="We refund.")
    do_create_canned_response(tenant, shortcut="hours", title="Opening hours", body="9 to 5.")

    response = login(owner).get("/inbox/canned/?q=ref", headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="listbox"' in html and 'role="option"' in html
    assert "/refund" in html and 'data-canned-body="We refund."' in html
    assert "/hours" not in html


def test_the_canned_lookup_is_tenant_scoped_and_escapes_html(
    tenant, other_tenant, make_member, login
):
    do_create_canned_response(
        tenant, shortcut="xss", title="<b>Bold</b>", body='"><script>alert(1)</script>'
    )
    do_create_canned_response(other_tenant, shortcut="xsecret", title="Theirs", body="Secret")
    agent = make_member(tenant, "agent")

    html = login(agent).get("/inbox/canned/?q=x", headers=HTMX).content.decode()

    assert "<script>alert(1)</script>" not in html and "<b>Bold</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert "xsecret" not in html and "Secret" not in html


def test_the_canned_lookup_says_when_nothing_matches(tenant, owner, login):
    html = login(owner).get("/inbox/canned/?q=zzz", headers=HTMX).content.decode()

    assert "No canned response matches." in html
    assert 'role="listbox"' not in html


def test_the_composer_is_wired_to_the_canned_lookup(conversation, owner, login):
    html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert 'data-canned-url="/inbox/canned/"' in html
    assert 'aria-controls="canned-suggestions"' in html
    assert "<script>" not in html.split('id="composer"', 1)[1].split("</form>", 1)[0]


def test_the_canned_lookup_fills_the_variables_for_the_conversations_contact(tenant, owner, login):
    AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")
    do_create_canned_response(
        tenant,
        shortcut="hi",
        title="Greeting",
        body='Hi {{firstName|default:"there"}}, your plan is {{plan|default:"basic"}}.',
    )
    ana = make_contact(tenant, name="Ana García")
    ana.first_name, ana.attributes = "Ana", {"plan": "Gold"}
    ana.save()
    with_ana = make_conversation(make_inbox(tenant), ana)
    with_nameless = make_conversation(make_inbox(tenant), make_contact(tenant))
    client = login(owner)

    for_ana = client.get(f"/inbox/canned/?q=hi&conversation={with_ana.pk}", headers=HTMX)
    for_nameless = client.get(f"/inbox/canned/?q=hi&conversation={with_nameless.pk}", headers=HTMX)

    assert 'data-canned-body="Hi Ana, your plan is Gold."' in for_ana.content.decode()
    assert 'data-canned-body="Hi there, your plan is basic."' in for_nameless.content.decode()


def test_the_canned_lookup_fills_nothing_for_another_tenants_conversation(
    tenant, other_tenant, owner, login
):
    do_create_canned_response(tenant, shortcut="hi", title="Hi", body="Hi {{firstName}}")
    theirs = make_conversation(make_inbox(other_tenant))

    response = login(owner).get(f"/inbox/canned/?q=hi&conversation={theirs.pk}", headers=HTMX)

    assert response.status_code == 404


def test_the_composer_asks_for_canned_responses_filled_for_its_conversation(
    conversation, owner, login
):
    html = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()

    assert f'data-canned-conversation="{conversation.pk}"' in html

"""Labels on conversations and canned responses: the actions, their checks and the composer's
``/shortcut`` lookup."""

import pytest
from django.db import IntegrityError

from contacts.models import AttributeDefinition
from inbox.actions.labels import (
    do_create_canned_response,
    do_delete_canned_response,
    do_label_conversation,
    do_unlabel_conversation,
    do_update_canned_response,
)
from inbox.models import CannedResponse, ConversationLabel
from inbox.search import canned_responses_matching
from omnichannel.actions import ActionError
from omnichannel.events import tenant_group
from omnichannel.labels import do_create_label, do_delete_label, do_update_label
from omnichannel.models import Label
from tests.inbox.api_factories import make_conversation, make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(tenant):
    return make_conversation(make_inbox(tenant))


@pytest.fixture
def tenant_events(tenant, group_events):
    """What is published to the tenant's group, read from the real channel layer."""
    return group_events(tenant_group(tenant.pk))


def test_it_creates_labels_with_unique_names_per_tenant_whatever_the_case(tenant, other_tenant):
    label = do_create_label(tenant, name="  VIP   client ", color="red")

    assert (label.name, label.color) == ("VIP client", "red")
    with pytest.raises(ActionError) as exc:
        do_create_label(tenant, name="vip CLIENT")
    assert exc.value.code == "conflict"
    assert do_create_label(other_tenant, name="VIP client").tenant == other_tenant


def test_it_enforces_unique_label_names_in_the_database(tenant):
    Label.objects.create(tenant=tenant, name="Urgent")
    with pytest.raises(IntegrityError):
        Label.objects.create(tenant=tenant, name="URGENT")


@pytest.mark.parametrize(
    ("name", "color"), [("", "red"), ("x" * 51, "red"), ("Fine", "chartreuse")]
)
def test_it_refuses_blank_long_names_and_colours_outside_the_palette(tenant, name, color):
    with pytest.raises(ActionError):
        do_create_label(tenant, name=name, color=color)


def test_it_renames_and_recolours_a_label(tenant):
    label = do_create_label(tenant, name="Billing")
    do_create_label(tenant, name="Sales")

    do_update_label(label, name="billing", color="green")
    label.refresh_from_db()
    assert (label.name, label.color) == ("billing", "green")
    with pytest.raises(ActionError):
        do_update_label(label, name="SALES")


def test_it_labels_and_unlabels_a_conversation_once(
    tenant, conversation, owner, tenant_events, django_capture_on_commit_callbacks
):
    label = do_create_label(tenant, name="Refund")
    with django_capture_on_commit_callbacks(execute=True):
        assert do_label_conversation(conversation, label, acting_user=owner) is True
        assert do_label_conversation(conversation, label, acting_user=owner) is False
    assert list(conversation.labels.all()) == [label]
    link = ConversationLabel.objects.get()
    assert (link.tenant, link.added_by) == (tenant, owner)

    with django_capture_on_commit_callbacks(execute=True):
        assert do_unlabel_conversation(conversation, label) is True
        assert do_unlabel_conversation(conversation, label) is False
    assert list(conversation.labels.all()) == []
    events = tenant_events()
    assert [(e["event"], e["payload"]["changed"]) for e in events] == [
        ("conversation.updated", ["labels"]),
        ("conversation.updated", ["labels"]),
    ]
    assert {e["payload"]["id"] for e in events} == {conversation.pk}


def test_it_refuses_another_tenants_label(conversation, other_tenant):
    theirs = do_create_label(other_tenant, name="Theirs")

    for action in (do_label_conversation, do_unlabel_conversation):
        with pytest.raises(ActionError) as exc:
            action(conversation, theirs)
        assert exc.value.code == "not_found"
    assert not ConversationLabel.objects.exists()


def test_it_takes_a_deleted_label_off_its_conversations(tenant, conversation):
    label = do_create_label(tenant, name="Old")
    do_label_conversation(conversation, label)

    do_delete_label(label)

    assert not ConversationLabel.objects.exists()
    assert conversation.labels.count() == 0


def test_it_creates_canned_responses_with_a_lower_case_unique_shortcut(tenant, owner):
    canned = do_create_canned_response(
        tenant, shortcut="/Refund-Policy", title="Refunds", body="Refunds take 5 days.",
        acting_user=owner,
    )  # fmt: skip

    assert (canned.shortcut, canned.created_by) == ("refund-policy", owner)
    with pytest.raises(ActionError) as exc:
        do_create_canned_response(tenant, shortcut="REFUND-policy", title="x", body="y")
    assert exc.value.code == "conflict"


@pytest.mark.parametrize(
    ("shortcut", "title", "body"),
    [
        ("", "t", "b"),
        ("has space", "t", "b"),
        ("-dash", "t", "b"),
        ("ok", "", "b"),
        ("ok", "t", " "),
    ],
)
def test_it_refuses_bad_canned_responses(tenant, shortcut, title, body):
    with pytest.raises(ActionError):
        do_create_canned_response(tenant, shortcut=shortcut, title=title, body=body)


def test_it_accepts_template_variables_and_the_tenants_attributes_in_canned_responses(tenant):
    AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")

    canned = do_create_canned_response(
        tenant,
        shortcut="hi",
        title="Hi",
        body='Hi {{firstName|default:"there"}}, on {{plan}} since {{ city }}.',
    )

    assert canned.body.startswith("Hi {{firstName")


def test_it_refuses_unknown_variables_in_canned_responses(tenant):
    with pytest.raises(ActionError) as refused:
        do_create_canned_response(tenant, shortcut="hi", title="Hi", body="Hi {{unknown}}")
    assert "unknown variable “unknown”" in refused.value.message
    assert "firstName" in refused.value.message  # what to use instead

    canned = do_create_canned_response(tenant, shortcut="hi", title="Hi", body="Hi")
    with pytest.raises(ActionError, match="unknown variable “frstName”"):
        do_update_canned_response(canned, body="Hi {{frstName}}")
    with pytest.raises(ActionError, match="is not a placeholder"):
        do_update_canned_response(canned, body="Hi {{firstName")
    canned.refresh_from_db()
    assert canned.body == "Hi"


def test_it_updates_and_deletes_a_canned_response(tenant):
    canned = do_create_canned_response(tenant, shortcut="hi", title="Hello", body="Hola")
    do_create_canned_response(tenant, shortcut="bye", title="Bye", body="Adiós")

    do_update_canned_response(canned, shortcut="hello", body="¡Hola!")
    canned.refresh_from_db()
    assert (canned.shortcut, canned.title, canned.body) == ("hello", "Hello", "¡Hola!")
    with pytest.raises(ActionError):
        do_update_canned_response(canned, shortcut="BYE")

    do_delete_canned_response(canned)
    assert list(CannedResponse.objects.values_list("shortcut", flat=True)) == ["bye"]


def test_it_looks_up_canned_responses_by_shortcut_prefix_then_title(
    tenant, other_tenant, django_assert_num_queries
):
    for shortcut, title in [
        ("refund", "Refund policy"),
        ("ref-status", "Where is my refund"),
        ("hours", "Opening hours"),
        ("rules", "Política de refunds"),
    ]:
        do_create_canned_response(tenant, shortcut=shortcut, title=title, body="…")
    do_create_canned_response(other_tenant, shortcut="refund", title="Theirs", body="…")

    with django_assert_num_queries(1):
        found = canned_responses_matching(tenant, "/REF")
    assert [c.shortcut for c in found] == ["ref-status", "refund", "rules"]
    assert [c.shortcut for c in canned_responses_matching(tenant, "politica")] == ["rules"]
    assert [c.shortcut for c in canned_responses_matching(tenant, "")] == [
        "hours",
        "ref-status",
        "refund",
        "rules",
    ]
    assert canned_responses_matching(tenant, "%") == []

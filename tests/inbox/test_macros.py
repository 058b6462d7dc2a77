"""Macros: saving them (steps checked against the tenant), running them through the inbox's own
actions (each step's permission, all or nothing, one audit row), the settings pages, the
conversation's menu, the API, and tenancy."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import AttributeDefinition
from inbox.actions.labels import do_create_canned_response, do_delete_canned_response
from inbox.actions.macros import (
    do_add_macro_step,
    do_create_macro,
    do_move_macro_step,
    do_remove_macro_step,
    do_run_macro,
)
from inbox.actions.teams import do_create_team
from inbox.api import MACRO_STEP_KINDS
from inbox.models import Conversation, Macro, MacroStep, Message
from omnichannel.actions import ActionError
from omnichannel.events import tenant_group
from omnichannel.labels import do_create_label, do_delete_label
from omnichannel.models import AuditEvent, Membership
from omnichannel.tenancy import MissingPermission
from tests.inbox.api_factories import (
    assert_error,
    bearer,
    make_contact,
    make_conversation,
    make_inbox,
    make_message,
    token_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.clock]  # snoozes count from now

HTMX = {"HX-Request": "true"}
Kind = MacroStep.Kind


@pytest.fixture
def conversation(tenant):
    contact = make_contact(tenant, name="Ana López")
    contact.first_name = "Ana"
    contact.save(update_fields=["first_name"])
    conversation = make_conversation(make_inbox(tenant), contact)
    make_message(conversation, direction="in", body="Hola")
    return conversation


@pytest.fixture
def vip(tenant):
    return do_create_label(tenant, name="VIP", color="red")


@pytest.fixture
def greeting(tenant):
    return do_create_canned_response(
        tenant,
        shortcut="thanks",
        title="Thanks",
        body='Thanks {{firstName|default:"there"}}, we are on it.',
    )


@pytest.fixture
def triage(tenant, owner, vip, greeting):
    """Label VIP, take it, reply with /thanks, note, close."""
    macro = do_create_macro(tenant, name="Triage", acting_user=owner)
    do_add_macro_step(macro, kind=Kind.ADD_LABEL, target_id=vip.pk)
    do_add_macro_step(macro, kind=Kind.ASSIGN_ME)
    do_add_macro_step(macro, kind=Kind.SEND_CANNED, target_id=greeting.pk)
    do_add_macro_step(macro, kind=Kind.ADD_NOTE, note="Triaged by macro")
    do_add_macro_step(macro, kind=Kind.CLOSE)
    return macro


# --- saving -------------------------------------------------------------------------------------


def test_it_creates_macros_with_unique_names_per_tenant_whatever_the_case(
    tenant, other_tenant, owner
):
    macro = do_create_macro(tenant, name="  Close   as spam ", acting_user=owner)

    assert macro.name == "Close as spam"
    with pytest.raises(ActionError) as exc:
        do_create_macro(tenant, name="CLOSE AS SPAM")
    assert exc.value.code == "conflict"
    assert do_create_macro(other_tenant, name="Close as spam").tenant == other_tenant
    assert AuditEvent.objects.filter(action="macro.created", tenant=tenant).count() == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_it_refuses_a_blank_or_long_name(tenant, name):
    with pytest.raises(ActionError):
        do_create_macro(tenant, name=name)


def test_it_saves_steps_in_order_and_says_what_each_needs(tenant, vip):
    macro = do_create_macro(tenant, name="Spam")

    with pytest.raises(ActionError, match="Choose the label"):
        do_add_macro_step(macro, kind=Kind.ADD_LABEL)
    with pytest.raises(ActionError, match="Write the note"):
        do_add_macro_step(macro, kind=Kind.ADD_NOTE, note="  ")
    with pytest.raises(ActionError, match="how long"):
        do_add_macro_step(macro, kind=Kind.SNOOZE, snooze_minutes="0")
    with pytest.raises(ActionError, match="what the step does"):
        do_add_macro_step(macro, kind="explode")
    first = do_add_macro_step(macro, kind=Kind.ADD_LABEL, target_id=str(vip.pk))
    second = do_add_macro_step(macro, kind=Kind.SNOOZE, snooze_minutes="1440")

    assert [(s.position, s.kind) for s in macro.steps.all()] == [
        (1, "add_label"),
        (2, "snooze"),
    ]
    assert (first.label, second.snooze_minutes) == (vip, 1440)


def test_it_refuses_targets_of_another_tenant_or_missing(
    tenant, other_tenant, make_member, greeting
):
    macro = do_create_macro(tenant, name="Mixed")
    foreign_label = do_create_label(other_tenant, name="Theirs")
    foreign_team = do_create_team(other_tenant, name="Their team")
    outsider = make_member(other_tenant, "agent")

    for kind, target in [
        (Kind.ADD_LABEL, foreign_label.pk),
        (Kind.ASSIGN_TEAM, foreign_team.pk),
        (Kind.ASSIGN_AGENT, outsider.pk),
        (Kind.SEND_CANNED, greeting.pk + 1000),
    ]:
        with pytest.raises(ActionError) as exc:
            do_add_macro_step(macro, kind=kind, target_id=target)
        assert exc.value.code == "not_found"
    assert not macro.steps.exists()


def test_it_refuses_a_canned_response_whose_variables_are_unknown(tenant, greeting):
    AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan", type="text")
    canned = do_create_canned_response(tenant, shortcut="plan", title="Plan", body="Your {{plan}}")
    AttributeDefinition.objects.filter(tenant=tenant, key="plan").delete()
    macro = do_create_macro(tenant, name="Plan")

    with pytest.raises(ActionError, match="cannot be filled in"):
        do_add_macro_step(macro, kind=Kind.SEND_CANNED, target_id=canned.pk)


def test_it_moves_and_removes_steps_keeping_positions_dense(tenant, vip):
    macro = do_create_macro(tenant, name="Order")
    label = do_add_macro_step(macro, kind=Kind.ADD_LABEL, target_id=vip.pk)
    note = do_add_macro_step(macro, kind=Kind.ADD_NOTE, note="n")
    close = do_add_macro_step(macro, kind=Kind.CLOSE)

    assert do_move_macro_step(close, up=True) is True
    assert do_move_macro_step(label, up=True) is False
    assert [s.kind for s in macro.steps.order_by("position")] == ["add_label", "close", "add_note"]
    do_remove_macro_step(MacroStep.objects.get(pk=label.pk))
    assert [(s.position, s.kind) for s in macro.steps.order_by("position")] == [
        (1, "close"),
        (2, "add_note"),
    ]
    assert note.pk in macro.steps.values_list("pk", flat=True)


# --- running ------------------------------------------------------------------------------------


def test_it_runs_every_step_through_the_inbox_actions_with_one_audit_row(
    tenant, owner, conversation, triage, vip
):
    steps = do_run_macro(conversation, triage, acting_user=owner)

    conversation.refresh_from_db()
    assert list(conversation.labels.all()) == [vip]
    assert conversation.assignee == owner
    assert conversation.status == Conversation.Status.CLOSED
    reply = Message.objects.get(conversation=conversation, sender_type="agent", is_private=False)
    assert reply.body == "Thanks Ana, we are on it."  # filled as the composer fills it
    assert reply.status == Message.Status.QUEUED and reply.author == owner
    assert Message.objects.filter(
        conversation=conversation, is_private=True, body="Triaged by macro"
    )
    assert len(steps) == 5 and steps[2] == "Reply with /thanks (Thanks)"
    run = AuditEvent.objects.get(action="macro.run")
    assert (run.tenant, run.actor, run.target_id) == (tenant, owner, str(conversation.pk))
    assert run.data["macro"] == "Triage"


def test_the_actions_events_go_out_after_commit_and_none_when_a_step_fails(
    tenant, owner, conversation, triage, group_events, django_capture_on_commit_callbacks
):
    events = group_events(tenant_group(tenant.pk))
    conversation.inbox.is_active = False
    conversation.inbox.save(update_fields=["is_active"])
    with django_capture_on_commit_callbacks(execute=True) as failed, pytest.raises(ActionError):
        do_run_macro(conversation, triage, acting_user=owner)
    conversation.inbox.is_active = True
    conversation.inbox.save(update_fields=["is_active"])

    with django_capture_on_commit_callbacks(execute=True):
        do_run_macro(conversation, triage, acting_user=owner)

    assert failed == []  # the failed run queued no event and no delivery
    published = [(e["event"], e["payload"].get("changed")) for e in events()]
    assert ("conversation.updated", ["labels"]) in published
    assert ("conversation.updated", ["assignee"]) in published
    assert sum(1 for event, _ in published if event == "message.created") >= 3


def test_an_agent_who_left_the_tenant_names_the_step(tenant, owner, make_member, conversation):
    agent = make_member(tenant, "agent")
    macro = do_create_macro(tenant, name="To Bea")
    do_add_macro_step(macro, kind=Kind.ASSIGN_AGENT, target_id=agent.pk)
    Membership.objects.filter(tenant=tenant, user=agent).delete()

    with pytest.raises(ActionError, match=r"^Step 1 \(Assign to .*\) cannot run: The assignee"):
        do_run_macro(conversation, macro, acting_user=owner)


def test_it_snoozes_for_the_steps_duration_from_when_it_runs(tenant, owner, conversation):
    macro = do_create_macro(tenant, name="Later")
    do_add_macro_step(macro, kind=Kind.SNOOZE, snooze_minutes=60)

    do_run_macro(conversation, macro, acting_user=owner)

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.SNOOZED
    expected = timezone.now() + timedelta(hours=1)
    assert abs(conversation.snoozed_until - expected) < timedelta(seconds=30)


def test_it_checks_every_steps_permission_before_running_any(
    tenant, make_member, conversation, vip
):
    agent = make_member(tenant, "agent")
    supervisor = make_member(tenant, "supervisor")
    macro = do_create_macro(tenant, name="Hand over")
    do_add_macro_step(macro, kind=Kind.ADD_LABEL, target_id=vip.pk)
    do_add_macro_step(macro, kind=Kind.ASSIGN_AGENT, target_id=supervisor.pk)

    with pytest.raises(MissingPermission) as exc:
        do_run_macro(conversation, macro, acting_user=agent)

    assert str(exc.value).startswith("Step 2 (Assign to")
    assert exc.value.codename == "conversations.assign_others"
    assert not conversation.labels.exists()  # step 1 did not run either
    assert not AuditEvent.objects.filter(action="macro.run").exists()


def test_an_agent_may_assign_to_themselves_through_a_macro(tenant, make_member, conversation):
    agent = make_member(tenant, "agent")
    macro = do_create_macro(tenant, name="Mine")
    do_add_macro_step(macro, kind=Kind.ASSIGN_AGENT, target_id=agent.pk)

    do_run_macro(conversation, macro, acting_user=agent)

    conversation.refresh_from_db()
    assert conversation.assignee == agent


def test_a_deleted_target_names_the_step_that_cannot_run(
    tenant, owner, conversation, triage, vip, greeting
):
    do_delete_canned_response(greeting)

    with pytest.raises(ActionError) as exc:
        do_run_macro(conversation, triage, acting_user=owner)

    assert "Step 3 cannot run: its canned response was deleted" in exc.value.message
    assert not conversation.labels.exists()
    do_delete_label(vip)
    with pytest.raises(ActionError, match="Step 1 cannot run: its label was deleted"):
        do_run_macro(conversation, triage, acting_user=owner)


def test_a_step_failing_while_running_leaves_nothing_of_the_macro(
    tenant, owner, conversation, triage
):
    conversation.inbox.is_active = False  # the reply (step 3) fails in do_send_message
    conversation.inbox.save(update_fields=["is_active"])

    with pytest.raises(ActionError) as exc:
        do_run_macro(conversation, triage, acting_user=owner)

    assert exc.value.message.startswith("Step 3 (Reply with /thanks (Thanks)) cannot run:")
    assert "disabled" in exc.value.message
    conversation.refresh_from_db()
    assert not conversation.labels.exists()
    assert conversation.assignee is None and conversation.status == Conversation.Status.OPEN


def test_an_empty_macro_says_so(tenant, owner, conversation):
    macro = do_create_macro(tenant, name="Nothing")
    with pytest.raises(ActionError, match="has no steps yet"):
        do_run_macro(conversation, macro, acting_user=owner)


def test_another_tenants_macro_cannot_run_on_a_conversation(
    tenant, other_tenant, owner, conversation
):
    theirs = do_create_macro(other_tenant, name="Theirs")
    do_add_macro_step(theirs, kind=Kind.CLOSE)

    with pytest.raises(ActionError) as exc:
        do_run_macro(conversation, theirs, acting_user=owner)
    assert exc.value.code == "not_found"


# --- settings pages -----------------------------------------------------------------------------


def test_settings_create_a_macro_and_add_steps(tenant, owner, login, vip, greeting):
    client = login(owner)

    assert "Macros" in client.get("/settings/macros/").content.decode()
    response = client.post("/settings/macros/new/", {"name": "Triage", "visibility": "global"})
    macro = Macro.objects.get(tenant=tenant)
    assert response.status_code == 302 and response["Location"] == f"/settings/macros/{macro.pk}/"
    for data in [
        {"kind": "add_label", "label": vip.pk, "note": "ignored"},
        {"kind": "send_canned", "canned_response": greeting.pk},
        {"kind": "snooze", "snooze_minutes": "240"},
    ]:
        assert client.post(f"/settings/macros/{macro.pk}/steps/", data).status_code == 302
    page = client.get(f"/settings/macros/{macro.pk}/").content.decode()

    assert "Add the label “VIP”" in page
    assert "Reply with /thanks (Thanks)" in page
    assert "Snooze for 4 hours" in page
    assert macro.steps.get(position=1).note == ""


def test_settings_rename_reorder_and_remove_steps(tenant, owner, login, vip):
    macro = do_create_macro(tenant, name="Triage", acting_user=owner)
    label = do_add_macro_step(macro, kind=Kind.ADD_LABEL, target_id=vip.pk)
    close = do_add_macro_step(macro, kind=Kind.CLOSE)
    do_create_macro(tenant, name="Spam")
    client = login(owner)
    base = f"/settings/macros/{macro.pk}"

    taken = client.post(f"{base}/", {"name": "spam", "visibility": "global"})
    renamed = client.post(f"{base}/", {"name": "Triage VIP", "visibility": "personal"})
    moved = client.post(f"{base}/steps/{close.pk}/move/", {"direction": "up"})
    removed = client.post(f"{base}/steps/{label.pk}/remove/")

    assert taken.status_code == 409
    assert "There is already a macro called “spam”." in taken.content.decode()
    assert renamed.status_code == moved.status_code == removed.status_code == 302
    macro.refresh_from_db()
    assert (macro.name, macro.visibility) == ("Triage VIP", "personal")
    assert [(s.position, s.kind) for s in macro.steps.all()] == [(1, "close")]


def test_settings_say_why_a_step_is_refused(tenant, owner, login):
    macro = do_create_macro(tenant, name="Triage")
    client = login(owner)

    response = client.post(f"/settings/macros/{macro.pk}/steps/", {"kind": "add_label"})

    assert response.status_code == 400
    assert "Choose the label for" in response.content.decode()


def test_settings_need_the_macros_permission(tenant, make_member, login):
    agent = make_member(tenant, "agent")
    supervisor = make_member(tenant, "supervisor")

    assert login(agent).get("/settings/macros/").status_code == 403
    assert login(agent).post("/settings/macros/new/", {"name": "X"}).status_code == 403
    assert login(supervisor).get("/settings/macros/").status_code == 200


def test_settings_cannot_reach_another_tenants_macro(tenant, other_tenant, owner, login):
    theirs = do_create_macro(other_tenant, name="Theirs")
    step = do_add_macro_step(theirs, kind=Kind.CLOSE)
    client = login(owner)

    assert client.get(f"/settings/macros/{theirs.pk}/").status_code == 404
    assert client.post(f"/settings/macros/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/settings/macros/{theirs.pk}/steps/", {"kind": "close"}).status_code == 404
    url = f"/settings/macros/{theirs.pk}/steps/{step.pk}/remove/"
    assert client.post(url).status_code == 404
    assert "Theirs" not in client.get("/settings/macros/").content.decode()
    assert Macro.objects.filter(pk=theirs.pk).exists() and theirs.steps.count() == 1


def test_a_personal_macro_is_only_its_creators(tenant, owner, make_member, login, conversation):
    supervisor = make_member(tenant, "supervisor")
    mine = do_create_macro(tenant, name="Mine", visibility="personal", acting_user=supervisor)
    do_add_macro_step(mine, kind=Kind.CLOSE)
    client = login(owner)

    assert "Mine" not in client.get("/settings/macros/").content.decode()
    assert client.get(f"/settings/macros/{mine.pk}/").status_code == 404
    run = f"/inbox/c/{conversation.pk}/macros/{mine.pk}/run/"
    assert client.post(run, headers=HTMX).status_code == 404
    assert "Mine" in login(supervisor).get(f"/inbox/c/{conversation.pk}/").content.decode()


# --- the conversation's menu --------------------------------------------------------------------


def test_the_conversation_menu_lists_macros_with_their_steps(owner, login, conversation, triage):
    page = login(owner).get(f"/inbox/c/{conversation.pk}/").content.decode()
    header = page.split('id="conversation-header"', 1)[1].split("</header>", 1)[0]

    assert 'id="action-macros"' in header
    assert f'action="/inbox/c/{conversation.pk}/macros/{triage.pk}/run/"' in header
    assert "Add the label “VIP”" in header and "Close the conversation" in header


def test_running_from_the_conversation_answers_the_header_the_new_messages_and_a_notice(
    owner, login, conversation, triage
):
    response = login(owner).post(
        f"/inbox/c/{conversation.pk}/macros/{triage.pk}/run/", {"list": ""}, headers=HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="conversation-header"' in html and "Closed" in html
    assert 'hx-swap-oob="beforeend:#thread"' in html
    reply = Message.objects.get(conversation=conversation, sender_type="agent", is_private=False)
    assert f'id="msg-{reply.pk}"' in html and "Thanks Ana, we are on it." in html
    assert "Triaged by macro" in html
    assert "Macro “Triage” ran." in html


def test_running_without_javascript_redirects_to_the_conversation(
    owner, login, conversation, triage
):
    client = login(owner)
    response = client.post(f"/inbox/c/{conversation.pk}/macros/{triage.pk}/run/")

    assert response.status_code == 302
    assert response["Location"] == f"/inbox/c/{conversation.pk}/"
    assert "Macro “Triage” ran." in client.get(response["Location"]).content.decode()


def test_a_refused_step_is_said_next_to_the_header_with_403(
    tenant, make_member, login, conversation, triage
):
    agent = make_member(tenant, "agent")
    viewer = make_member(tenant, "viewer")
    macro = do_create_macro(tenant, name="Give away")
    do_add_macro_step(macro, kind=Kind.ASSIGN_AGENT, target_id=make_member(tenant, "admin").pk)

    response = login(agent).post(
        f"/inbox/c/{conversation.pk}/macros/{macro.pk}/run/", {"list": ""}, headers=HTMX
    )
    by_viewer = login(viewer).post(
        f"/inbox/c/{conversation.pk}/macros/{triage.pk}/run/", {"list": ""}, headers=HTMX
    )

    assert response.status_code == 403
    assert response["HX-Retarget"] == "#conversation-error"
    assert "Step 1 (Assign to" in response.content.decode()
    assert by_viewer.status_code == 403
    assert "Step 1 (Add the label “VIP”)" in by_viewer.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee is None and not conversation.labels.exists()


def test_another_tenants_conversation_or_macro_is_unreachable_from_the_inbox(
    tenant, other_tenant, owner, login, conversation, triage
):
    theirs = do_create_macro(other_tenant, name="Theirs")
    do_add_macro_step(theirs, kind=Kind.CLOSE)
    their_conversation = make_conversation(make_inbox(other_tenant))
    client = login(owner)

    assert client.post(f"/inbox/c/{conversation.pk}/macros/{theirs.pk}/run/").status_code == 404
    url = f"/inbox/c/{their_conversation.pk}/macros/{triage.pk}/run/"
    assert client.post(url).status_code == 404
    their_conversation.refresh_from_db()
    assert their_conversation.status == Conversation.Status.OPEN


# --- API ----------------------------------------------------------------------------------------


def test_the_api_lists_the_global_macros_with_their_steps(tenant, owner, client, triage):
    do_create_macro(tenant, name="Private", visibility="personal", acting_user=owner)

    response = client.get("/api/v1/macros", **bearer(token_for(tenant)))

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["name"] == "Triage"
    assert [s["kind"] for s in item["steps"]] == [
        "add_label",
        "assign_me",
        "send_canned",
        "add_note",
        "close",
    ]


def test_the_api_runs_a_macro_and_names_a_step_a_token_cannot_run(
    tenant, client, conversation, triage, vip
):
    token = token_for(tenant)
    url = f"/api/v1/conversations/{conversation.pk}/macros/{triage.pk}/run"

    error = assert_error(client.post(url, **bearer(token)), 400, "invalid")
    assert error["message"].startswith("Step 2 (Assign to the agent running the macro)")

    label_and_close = do_create_macro(tenant, name="Done")
    do_add_macro_step(label_and_close, kind=Kind.ADD_LABEL, target_id=vip.pk)
    do_add_macro_step(label_and_close, kind=Kind.CLOSE)
    url = f"/api/v1/conversations/{conversation.pk}/macros/{label_and_close.pk}/run"
    response = client.post(url, **bearer(token))
    assert response.status_code == 200, response.content
    assert response.json()["conversation"]["status"] == "closed"
    assert response.json()["steps"] == ["Add the label “VIP”", "Close the conversation"]
    run = AuditEvent.objects.get(action="macro.run")
    assert run.actor_token is not None


def test_the_api_refuses_a_step_the_tokens_role_lacks(tenant, client, conversation, vip):
    macro = do_create_macro(tenant, name="Label")
    do_add_macro_step(macro, kind=Kind.ADD_LABEL, target_id=vip.pk)
    url = f"/api/v1/conversations/{conversation.pk}/macros/{macro.pk}/run"

    response = client.post(url, **bearer(token_for(tenant, "viewer")))

    assert response.status_code == 403
    assert "Step 1 (Add the label “VIP”)" in response.json()["error"]["message"]
    assert not conversation.labels.exists()


def test_the_api_cannot_reach_another_tenants_macro_or_conversation(
    tenant, other_tenant, client, conversation, triage
):
    token = token_for(other_tenant)

    assert client.get("/api/v1/macros", **bearer(token)).json() == {"items": []}
    url = f"/api/v1/conversations/{conversation.pk}/macros/{triage.pk}/run"
    assert_error(client.post(url, **bearer(token)), 404, "not_found")
    their_conversation = make_conversation(make_inbox(other_tenant))
    url = f"/api/v1/conversations/{their_conversation.pk}/macros/{triage.pk}/run"
    assert_error(client.post(url, **bearer(token)), 404, "not_found")


def test_the_api_step_kinds_are_the_models():
    assert set(MACRO_STEP_KINDS.__args__) == set(MacroStep.Kind.values)

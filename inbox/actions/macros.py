"""Macros: a tenant's saved sequences of conversation actions, and running one.

A macro's steps are rows (:class:`inbox.models.MacroStep`) pointing at what they use: a label,
a team, an agent, a canned response. Saving a step checks that its target exists in the tenant;
deleting the target later leaves the step without one, and running the macro then names that
step instead of silently skipping it.

Running (:func:`do_run_macro`) first checks every step for the member or token running it
(the permission each action needs, the targets, the canned response's variables), so a macro
that cannot finish does not start. The steps then run in their order through the inbox's own
actions (labels, assignment, status, sending) inside one transaction: when one still fails
(the contact opted out, WhatsApp's window closed) nothing of the macro stays, and the error
names the step. Events and deliveries of the actions go out after commit, as always. The run
itself is one audit row.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from contacts.attributes import definitions_for
from contacts.templating import TemplateError, check_template
from inbox.actions.conversations import check_assignee, do_update_conversation
from inbox.actions.labels import do_label_conversation, do_unlabel_conversation
from inbox.actions.send import do_send_message
from inbox.canned import filled_for_contact
from inbox.models import CannedResponse, Conversation, Macro, MacroStep, Team
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.models import ApiToken, AuditEvent, Label, Membership, Tenant
from omnichannel.tenancy import MissingPermission, acting_for, require_acting_permission

Action = AuditEvent.Action
Kind = MacroStep.Kind

NAME_MAX = Macro._meta.get_field("name").max_length
NOTE_MAX = 4000
MAX_STEPS = 20
# What the settings page offers; any whole number of minutes up to SNOOZE_MAX is accepted.
SNOOZE_CHOICES = [(60, "1 hour"), (240, "4 hours"), (1440, "1 day"), (10080, "1 week")]
SNOOZE_MAX = 30 * 24 * 60

# What each kind of step needs of whoever runs it: (codename, what is refused).
STEP_PERMISSIONS: dict[str, tuple[str, str]] = {
    Kind.ADD_LABEL: ("conversations.manage", "label conversations"),
    Kind.REMOVE_LABEL: ("conversations.manage", "label conversations"),
    Kind.ASSIGN_ME: ("conversations.assign", "assign conversations"),
    Kind.ASSIGN_AGENT: ("conversations.assign", "assign conversations"),
    Kind.ASSIGN_TEAM: ("conversations.assign", "assign conversations"),
    Kind.SEND_CANNED: ("conversations.reply", "reply to conversations"),
    Kind.ADD_NOTE: ("conversations.note", "write private notes"),
    Kind.CLOSE: ("conversations.manage", "close conversations"),
    Kind.SNOOZE: ("conversations.manage", "snooze conversations"),
}
# The field each kind of step points at, and how a missing one is named.
STEP_TARGETS: dict[str, tuple[str, str]] = {
    Kind.ADD_LABEL: ("label", "label"),
    Kind.REMOVE_LABEL: ("label", "label"),
    Kind.ASSIGN_AGENT: ("agent", "agent"),
    Kind.ASSIGN_TEAM: ("team", "team"),
    Kind.SEND_CANNED: ("canned_response", "canned response"),
}


def snooze_words(minutes: int) -> str:
    for value, words in SNOOZE_CHOICES:
        if value == minutes:
            return words
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def describe_step(step: MacroStep) -> str:
    """A step in words, as the settings page and the conversation's menu list it."""
    missing = "(deleted)"
    match step.kind:
        case Kind.ADD_LABEL:
            return f"Add the label “{step.label.name}”" if step.label else f"Add a label {missing}"
        case Kind.REMOVE_LABEL:
            if step.label:
                return f"Remove the label “{step.label.name}”"
            return f"Remove a label {missing}"
        case Kind.ASSIGN_ME:
            return "Assign to the agent running the macro"
        case Kind.ASSIGN_AGENT:
            if step.agent:
                return f"Assign to {step.agent.get_full_name() or step.agent.email}"
            return f"Assign to an agent {missing}"
        case Kind.ASSIGN_TEAM:
            return (
                f"Assign to the team {step.team.name}"
                if step.team
                else f"Assign to a team {missing}"
            )
        case Kind.SEND_CANNED:
            canned = step.canned_response
            if canned:
                return f"Reply with /{canned.shortcut} ({canned.title})"
            return f"Reply with a canned response {missing}"
        case Kind.ADD_NOTE:
            return f"Add a private note: {step.note[:60]}{'…' if len(step.note) > 60 else ''}"
        case Kind.CLOSE:
            return "Close the conversation"
        case Kind.SNOOZE:
            return f"Snooze for {snooze_words(step.snooze_minutes or 0)}"
    return step.get_kind_display()


# --- Saving macros ------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ActionError("A macro needs a name.")
    if len(name) > NAME_MAX:
        raise ActionError(f"A macro's name has at most {NAME_MAX} characters.")
    return name


def _clean_visibility(visibility: str) -> str:
    if visibility not in Macro.Visibility.values:
        raise ActionError("Choose who can run the macro: everyone, or only you.")
    return visibility


def _name_conflict(name: str) -> ActionError:
    return ActionError(f"There is already a macro called “{name}”.", code="conflict")


def _save_macro(macro: Macro) -> None:
    try:
        with transaction.atomic():
            macro.save()
    except IntegrityError as exc:
        raise _name_conflict(macro.name) from exc


@transaction.atomic
def do_create_macro(
    tenant: Tenant, *, name: str, visibility: str = Macro.Visibility.GLOBAL, acting_user=None
) -> Macro:
    """A macro without steps yet; ``personal`` ones are offered only to ``acting_user``."""
    visibility = _clean_visibility(visibility)
    if visibility == Macro.Visibility.PERSONAL and acting_user is None:
        raise ActionError("A personal macro belongs to a member; make it available to everyone.")
    macro = Macro(
        tenant=tenant, name=_clean_name(name), visibility=visibility, created_by=acting_user
    )
    _save_macro(macro)
    audit.record(Action.MACRO_CREATED, tenant=tenant, actor=acting_user, target=macro)
    return macro


@transaction.atomic
def do_update_macro(
    macro: Macro, *, name: str | None = None, visibility: str | None = None
) -> Macro:
    before = audit.snapshot(macro, ("name", "visibility"))
    if name is not None:
        macro.name = _clean_name(name)
    if visibility is not None:
        macro.visibility = _clean_visibility(visibility)
        if macro.visibility == Macro.Visibility.PERSONAL and macro.created_by_id is None:
            raise ActionError(
                "This macro has no owner any more, so it stays available to everyone."
            )
    changed = audit.changed_fields(macro, before)
    if not changed:
        return macro
    _save_macro(macro)
    audit.record(Action.MACRO_CHANGED, tenant=macro.tenant, target=macro, data={"changed": changed})
    return macro


@transaction.atomic
def do_delete_macro(macro: Macro) -> None:
    audit.record(Action.MACRO_DELETED, tenant=macro.tenant, target=macro, data={"name": macro.name})
    macro.delete()


def _id(raw, what: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ActionError(f"“{raw}” is not a {what}.") from None


def _target(step: MacroStep, tenant_id: int, raw_id) -> None:
    """Sets the step's target from ``raw_id``, found in the macro's tenant only."""
    field, what = STEP_TARGETS[step.kind]
    pk = _id(raw_id, what)
    if pk is None:
        raise ActionError(f"Choose the {what} for “{step.get_kind_display().lower()}”.")
    if field == "agent":
        membership = (
            Membership.objects.filter(tenant_id=tenant_id, user_id=pk, user__is_active=True)
            .select_related("user", "role")
            .first()
        )
        if membership is None:
            raise ActionError("That agent is not a member of this tenant.", code="not_found")
        if not membership.has_permission("conversations.view"):
            name = membership.user.get_full_name() or membership.user.email
            raise ActionError(
                f"{name} cannot see conversations (their role is {membership.role.name}), "
                "so conversations cannot be assigned to them."
            )
        step.agent = membership.user
        return
    model = {"label": Label, "team": Team, "canned_response": CannedResponse}[field]
    found = model.objects.filter(tenant_id=tenant_id, pk=pk).first()
    if found is None:
        raise ActionError(f"That {what} does not exist in this tenant.", code="not_found")
    setattr(step, field, found)


@transaction.atomic
def do_add_macro_step(
    macro: Macro,
    *,
    kind: str,
    target_id=None,
    note: str = "",
    snooze_minutes=None,
) -> MacroStep:
    """Append a step. ``target_id`` names the label, team, agent (a user id) or canned response
    the kind needs, in the macro's tenant; ``note`` is an ``add_note`` step's text,
    ``snooze_minutes`` a ``snooze`` step's duration."""
    if kind not in Kind.values:
        raise ActionError("Choose what the step does.")
    # Locks the macro: two steps added at once would take the same position.
    macro = Macro.objects.select_for_update().get(pk=macro.pk)
    count = macro.steps.count()
    if count >= MAX_STEPS:
        raise ActionError(f"A macro has at most {MAX_STEPS} steps.")
    step = MacroStep(tenant_id=macro.tenant_id, macro=macro, position=count + 1, kind=kind)
    if kind in STEP_TARGETS:
        _target(step, macro.tenant_id, target_id)
    if kind == Kind.ADD_NOTE:
        note = (note or "").strip().replace("\r\n", "\n")
        if not note:
            raise ActionError("Write the note the step adds.")
        if len(note) > NOTE_MAX:
            raise ActionError(f"A note has at most {NOTE_MAX} characters.")
        step.note = note
    if kind == Kind.SNOOZE:
        minutes = _id(snooze_minutes, "number of minutes")
        if minutes is None or not 0 < minutes <= SNOOZE_MAX:
            raise ActionError("Choose how long the conversation is snoozed (up to 30 days).")
        step.snooze_minutes = minutes
    if kind == Kind.SEND_CANNED:
        _check_canned_variables(macro.tenant, step.canned_response)
    step.save()
    audit.record(
        Action.MACRO_CHANGED,
        tenant=macro.tenant,
        target=macro,
        data={"changed": ["steps"], "added": kind},
    )
    return step


@transaction.atomic
def do_move_macro_step(step: MacroStep, *, up: bool) -> bool:
    """Swap the step with the one before (``up``) or after it; False at either end."""
    Macro.objects.select_for_update().filter(pk=step.macro_id).get()
    step = MacroStep.objects.get(pk=step.pk)
    steps = MacroStep.objects.filter(macro_id=step.macro_id)
    other = (
        steps.filter(position__lt=step.position).order_by("-position").first()
        if up
        else steps.filter(position__gt=step.position).order_by("position").first()
    )
    if other is None:
        return False
    # The unique position is checked at commit (deferred), so the two can trade places.
    step.position, other.position = other.position, step.position
    step.save(update_fields=["position"])
    other.save(update_fields=["position"])
    audit.record(
        Action.MACRO_CHANGED,
        tenant=step.tenant,
        target=step.macro,
        data={"changed": ["steps"], "moved": step.kind},
    )
    return True


@transaction.atomic
def do_remove_macro_step(step: MacroStep) -> None:
    """The steps after it move up one place."""
    Macro.objects.select_for_update().filter(pk=step.macro_id).get()
    macro = step.macro
    step.delete()
    MacroStep.objects.filter(macro_id=macro.pk, position__gt=step.position).update(
        position=F("position") - 1
    )
    audit.record(
        Action.MACRO_CHANGED,
        tenant=macro.tenant,
        target=macro,
        data={"changed": ["steps"], "removed": step.kind},
    )


# --- Running a macro ----------------------------------------------------------------------------


def _check_canned_variables(tenant: Tenant, canned: CannedResponse) -> None:
    # The composer shows an unfillable response as stored, for the agent to fix; a macro
    # sends it without a look, so it refuses instead of sending "{{…}}" to the contact.
    try:
        check_template(canned.body, definitions_for(tenant))
    except TemplateError as exc:
        raise ActionError(
            f"The canned response /{canned.shortcut} cannot be filled in: {exc}. "
            "Fix it in Settings → Labels & canned responses."
        ) from exc


@dataclass
class _Prepared:
    number: int
    words: str
    run: Callable[[], object]


def _step_error(number: int, words: str, exc: ActionError) -> ActionError:
    return ActionError(
        f"Step {number} ({words}) cannot run: {exc.message}",
        code=exc.code,
        retry_after=exc.retry_after,
    )


def _prepare(
    conversation: Conversation,
    step: MacroStep,
    number: int,
    *,
    acting,
    acting_user,
    acting_token: ApiToken | None,
) -> _Prepared:
    """Checks the step for whoever runs it and returns what running it does; raises (naming
    the step) what would refuse it."""
    words = describe_step(step)
    codename, doing = STEP_PERMISSIONS[step.kind]
    try:
        require_acting_permission(acting, codename, doing=doing)
        if step.kind == Kind.ASSIGN_AGENT and (
            acting_user is None or step.agent_id != acting_user.pk
        ):
            require_acting_permission(
                acting,
                "conversations.assign_others",
                doing="give conversations to other agents (only take them yourself)",
            )
    except MissingPermission as exc:
        raise MissingPermission(f"Step {number} ({words}): {exc}", codename=exc.codename) from exc
    if step.kind in STEP_TARGETS:
        field, what = STEP_TARGETS[step.kind]
        if getattr(step, f"{field}_id") is None:
            raise ActionError(
                f"Step {number} cannot run: its {what} was deleted. "
                "Edit the macro in Settings → Macros."
            )
    who = {"acting_user": acting_user, "acting_token": acting_token}
    try:
        match step.kind:
            case Kind.ADD_LABEL:
                label = step.label
                return _Prepared(
                    number,
                    words,
                    lambda: do_label_conversation(conversation, label, acting_user=acting_user),
                )
            case Kind.REMOVE_LABEL:
                label = step.label
                return _Prepared(
                    number,
                    words,
                    lambda: do_unlabel_conversation(conversation, label, acting_user=acting_user),
                )
            case Kind.ASSIGN_ME:
                if acting_user is None:
                    raise ActionError(
                        "assigning to the agent running the macro needs a signed-in agent; "
                        "an API token is nobody."
                    )
                check_assignee(conversation, acting_user)
                return _Prepared(
                    number,
                    words,
                    lambda: do_update_conversation(conversation, assignee=acting_user, **who),
                )
            case Kind.ASSIGN_AGENT:
                agent = step.agent
                check_assignee(conversation, agent)
                return _Prepared(
                    number,
                    words,
                    lambda: do_update_conversation(conversation, assignee=agent, **who),
                )
            case Kind.ASSIGN_TEAM:
                team = step.team
                return _Prepared(
                    number, words, lambda: do_update_conversation(conversation, team=team, **who)
                )
            case Kind.SEND_CANNED:
                canned = step.canned_response
                _check_canned_variables(conversation.tenant, canned)
                [(_, text)] = filled_for_contact(
                    conversation.tenant, [canned], conversation.contact
                )
                return _Prepared(
                    number,
                    words,
                    lambda: do_send_message(
                        conversation.tenant, conversation=conversation, body=text, **who
                    ),
                )
            case Kind.ADD_NOTE:
                note = step.note
                return _Prepared(
                    number,
                    words,
                    lambda: do_send_message(
                        conversation.tenant,
                        conversation=conversation,
                        body=note,
                        is_private=True,
                        **who,
                    ),
                )
            case Kind.CLOSE:
                return _Prepared(
                    number,
                    words,
                    lambda: do_update_conversation(
                        conversation, status=Conversation.Status.CLOSED, **who
                    ),
                )
            case Kind.SNOOZE:
                minutes = step.snooze_minutes
                # The wake-up time is counted when the step runs, not when the macro was saved.
                return _Prepared(
                    number,
                    words,
                    lambda: do_update_conversation(
                        conversation,
                        status=Conversation.Status.SNOOZED,
                        snoozed_until=timezone.now() + timedelta(minutes=minutes),
                        **who,
                    ),
                )
    except ActionError as exc:
        raise _step_error(number, words, exc) from exc
    raise ActionError(f"Step {number} has an unknown kind “{step.kind}”.")


def check_run_macro(
    conversation: Conversation,
    macro: Macro,
    *,
    acting_user=None,
    acting_token: ApiToken | None = None,
) -> list[_Prepared]:
    """Every step of ``macro`` checked for ``conversation`` and whoever runs it, ready to run;
    raises for the first step that cannot (``MissingPermission`` for a refusal, 403)."""
    if macro.tenant_id != conversation.tenant_id:
        raise ActionError("No such macro.", code="not_found")
    steps = list(
        macro.steps.select_related("label", "team", "agent", "canned_response").order_by(
            "position", "id"
        )
    )
    if not steps:
        raise ActionError(
            f"The macro “{macro.name}” has no steps yet; add some in Settings → Macros."
        )
    acting = acting_for(conversation.tenant_id, acting_user=acting_user, acting_token=acting_token)
    return [
        _prepare(
            conversation,
            step,
            number,
            acting=acting,
            acting_user=acting_user,
            acting_token=acting_token,
        )
        for number, step in enumerate(steps, start=1)
    ]


@transaction.atomic
def do_run_macro(
    conversation: Conversation,
    macro: Macro,
    *,
    acting_user=None,
    acting_token: ApiToken | None = None,
) -> list[str]:
    """Run ``macro``'s steps on ``conversation`` in order, all or nothing (see the module);
    returns the steps in words, as they ran."""
    prepared = check_run_macro(
        conversation, macro, acting_user=acting_user, acting_token=acting_token
    )
    for item in prepared:
        try:
            item.run()
        except MissingPermission as exc:
            raise MissingPermission(
                f"Step {item.number} ({item.words}): {exc}", codename=exc.codename
            ) from exc
        except ActionError as exc:
            raise _step_error(item.number, item.words, exc) from exc
    audit.record(
        Action.MACRO_RUN,
        tenant=conversation.tenant,
        actor=acting_user,
        token=acting_token,
        target=conversation,
        data={"macro_id": macro.pk, "macro": macro.name, "steps": [p.words for p in prepared]},
    )
    return [p.words for p in prepared]

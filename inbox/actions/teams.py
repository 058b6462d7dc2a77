"""Teams of agents and how each inbox assigns its conversations."""

from django.db import IntegrityError, transaction

from inbox.models import Inbox, Team, TeamMember
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, Membership, Tenant

Action = AuditEvent.Action


@transaction.atomic
def do_create_team(tenant: Tenant, *, name: str, description: str = "") -> Team:
    name = " ".join(name.split())
    if not name:
        raise ActionError("A team needs a name.")
    try:
        with transaction.atomic():
            team = Team.objects.create(
                tenant=tenant, name=name[:80], description=description.strip()[:200]
            )
    except IntegrityError:
        raise ActionError(f"There is already a team called “{name}”.", code="conflict") from None
    audit.record(Action.TEAM_CREATED, tenant=tenant, target=team)
    return team


@transaction.atomic
def do_delete_team(team: Team) -> None:
    """Its conversations and inboxes simply have no team any more."""
    audit.record(Action.TEAM_DELETED, tenant=team.tenant, target=team, data={"name": team.name})
    team.delete()


@transaction.atomic
def do_add_team_member(team: Team, user) -> bool:
    """False when they already were a member; members must belong to the team's tenant."""
    if not Membership.objects.filter(tenant_id=team.tenant_id, user=user).exists():
        raise ActionError("Only members of this tenant can join its teams.", code="not_found")
    _, created = TeamMember.objects.get_or_create(
        team=team, user=user, defaults={"tenant_id": team.tenant_id}
    )
    if created:
        audit.record(
            Action.TEAM_MEMBER_ADDED, tenant=team.tenant, target=team, data={"user": user.email}
        )
    return created


@transaction.atomic
def do_remove_team_member(team: Team, user) -> bool:
    deleted, _ = TeamMember.objects.filter(team=team, user=user).delete()
    if deleted:
        audit.record(
            Action.TEAM_MEMBER_REMOVED, tenant=team.tenant, target=team, data={"user": user.email}
        )
    return bool(deleted)


@transaction.atomic
def do_configure_inbox_assignment(inbox: Inbox, *, team: Team | None, auto_assign: bool) -> Inbox:
    if team is not None and team.tenant_id != inbox.tenant_id:
        raise ActionError("No such team.", code="not_found")
    before = audit.snapshot(inbox, ("team_id", "auto_assign"))
    inbox.team = team
    inbox.auto_assign = auto_assign
    changed = audit.changed_fields(inbox, before)
    if not changed:
        return inbox
    inbox.save(update_fields=["team", "auto_assign"])
    audit.record(
        Action.INBOX_ASSIGNMENT_CHANGED,
        tenant=inbox.tenant,
        target=inbox,
        data={"changed": [name.removesuffix("_id") for name in changed]},
    )
    return inbox

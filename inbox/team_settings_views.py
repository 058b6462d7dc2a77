"""Settings → Teams & assignment: the tenant's teams, their members, and which team each inbox
assigns its new conversations to (round robin when automatic). Everything needs ``teams.manage``.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from inbox.actions.teams import (
    do_add_team_member,
    do_configure_inbox_assignment,
    do_create_team,
    do_delete_team,
    do_remove_team_member,
)
from inbox.models import Inbox, Team, TeamMember
from omnichannel.actions import ActionError
from omnichannel.models import Membership
from omnichannel.settings_views import refused_status, settings_nav
from omnichannel.tenancy import get_in_tenant, require_permission


def _teams_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    tenant = request.tenant
    teams = list(Team.objects.for_tenant(tenant).order_by("name", "id"))
    members: dict[int, list] = {team.pk: [] for team in teams}
    for link in (
        TeamMember.objects.filter(tenant=tenant).select_related("user").order_by("user__email")
    ):
        members[link.team_id].append(link.user)
    # Not called ``memberships``: that name is the shell's list of the user's own tenants
    # (omnichannel.context_processors.shell), which draws the tenant switcher.
    tenant_users = [
        membership.user
        for membership in Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .order_by("user__email")
    ]
    for team in teams:
        team.member_list = members[team.pk]
        # "Add a member" offers only the people who are not in the team yet.
        team.candidates = [user for user in tenant_users if user not in team.member_list]
    context = {
        "teams": teams,
        "inboxes": list(Inbox.objects.for_tenant(tenant).select_related("team")),
    }
    context = {"settings_nav": settings_nav(request, "teams"), "tenant": tenant, **context}
    return render(request, "inbox/settings/teams.html", context, status=status)


@require_GET
@require_permission("teams.manage")
def teams(request: HttpRequest) -> HttpResponse:
    return _teams_page(request)


@require_POST
@require_permission("teams.manage")
def team_create(request: HttpRequest) -> HttpResponse:
    try:
        team = do_create_team(
            request.tenant,
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
        )
    except ActionError as exc:
        return _teams_page(request, status=refused_status(request, exc))
    messages.success(request, f"Team “{team.name}” created.")
    return redirect("settings:teams")


@require_POST
@require_permission("teams.manage")
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_in_tenant(Team, request.tenant, pk=pk)
    do_delete_team(team)
    messages.success(request, f"Team “{team.name}” deleted.")
    return redirect("settings:teams")


@require_POST
@require_permission("teams.manage")
def team_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_in_tenant(Team, request.tenant, pk=pk)
    membership = get_in_tenant(Membership, request.tenant, user_id=request.POST.get("user"))
    if do_add_team_member(team, membership.user):
        messages.success(request, f"{membership.user.email} joined {team.name}.")
    return redirect("settings:teams")


@require_POST
@require_permission("teams.manage")
def team_member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    team = get_in_tenant(Team, request.tenant, pk=pk)
    membership = get_in_tenant(Membership, request.tenant, user_id=user_id)
    if do_remove_team_member(team, membership.user):
        messages.success(request, f"{membership.user.email} left {team.name}.")
    return redirect("settings:teams")


@require_POST
@require_permission("teams.manage")
def inbox_assignment(request: HttpRequest, pk: int) -> HttpResponse:
    inbox = get_in_tenant(Inbox, request.tenant, pk=pk)
    raw_team = request.POST.get("team", "")
    team = get_in_tenant(Team, request.tenant, pk=raw_team) if raw_team else None
    auto_assign = request.POST.get("auto_assign") == "on"
    do_configure_inbox_assignment(inbox, team=team, auto_assign=auto_assign)
    messages.success(request, f"Assignment of “{inbox.name}” saved.")
    return redirect("settings:teams")

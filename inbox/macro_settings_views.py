"""Settings → Macros: the tenant's macros and their steps. Everything needs ``macros.manage``.

The list page creates a macro (a name, who may run it); its own page renames it, adds steps,
moves them up and down and removes them. A member sees the global macros and their own
personal ones, here as in the conversation's menu.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox.actions.macros import (
    SNOOZE_CHOICES,
    describe_step,
    do_add_macro_step,
    do_create_macro,
    do_delete_macro,
    do_move_macro_step,
    do_remove_macro_step,
    do_update_macro,
)
from inbox.models import CannedResponse, Macro, MacroStep, Team
from inbox.selectors import macros_for_member, macros_with_steps
from omnichannel.actions import ActionError
from omnichannel.models import Label, Membership
from omnichannel.settings_views import refused_status, settings_nav
from omnichannel.tenancy import get_in_tenant, require_permission


def _macro(request: HttpRequest, pk: int) -> Macro:
    return get_in_tenant(macros_for_member(request.tenant, request.user), request.tenant, pk=pk)


def _step_choices(request: HttpRequest) -> dict:
    """What a new step can point at, for the "Add a step" form."""
    tenant = request.tenant
    members = Membership.objects.filter(tenant=tenant, user__is_active=True).select_related(
        "user", "role"
    )
    agents = sorted(
        (m.user for m in members if m.has_permission("conversations.view")),
        key=lambda user: (user.get_full_name() or user.email).lower(),
    )
    return {
        "step_kinds": MacroStep.Kind.choices,
        "step_labels": list(Label.objects.for_tenant(tenant).order_by("name", "id")),
        "step_teams": list(Team.objects.for_tenant(tenant).order_by("name", "id")),
        "step_agents": agents,
        "step_canned": list(CannedResponse.objects.for_tenant(tenant).order_by("shortcut", "id")),
        "snooze_choices": SNOOZE_CHOICES,
    }


def _page(
    request: HttpRequest,
    *,
    editing: Macro | None = None,
    form: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    """The list (``editing`` None) or one macro's page; ``form`` keeps what was typed."""
    macros = macros_with_steps(macros_for_member(request.tenant, request.user))
    for macro in macros:
        macro.step_words = [(step, describe_step(step)) for step in macro.steps.all()]
    context = {
        "settings_nav": settings_nav(request, "macros"),
        "tenant": request.tenant,
        "macros": macros,
        "visibilities": Macro.Visibility.choices,
        "form": form or {},
    }
    if editing is not None:
        context["editing"] = next(m for m in macros if m.pk == editing.pk)
        context.update(_step_choices(request))
    return render(request, "inbox/settings/macros.html", context, status=status)


@require_GET
@require_permission("macros.manage")
def macros(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@require_permission("macros.manage")
def macro_create(request: HttpRequest) -> HttpResponse:
    try:
        macro = do_create_macro(
            request.tenant,
            name=request.POST.get("name", ""),
            visibility=request.POST.get("visibility", Macro.Visibility.GLOBAL),
            acting_user=request.user,
        )
    except ActionError as exc:
        return _page(request, form=request.POST.dict(), status=refused_status(request, exc))
    messages.success(request, f"Macro “{macro.name}” created; now add its steps.")
    return redirect("settings:macro-edit", pk=macro.pk)


@require_http_methods(["GET", "POST"])
@require_permission("macros.manage")
def macro_edit(request: HttpRequest, pk: int) -> HttpResponse:
    macro = _macro(request, pk)
    if request.method == "GET":
        return _page(request, editing=macro)
    try:
        do_update_macro(
            macro,
            name=request.POST.get("name", ""),
            visibility=request.POST.get("visibility", macro.visibility),
        )
    except ActionError as exc:
        status = refused_status(request, exc)
        return _page(request, editing=_macro(request, pk), form=request.POST.dict(), status=status)
    messages.success(request, f"Macro “{macro.name}” saved.")
    return redirect("settings:macro-edit", pk=macro.pk)


@require_POST
@require_permission("macros.manage")
def macro_delete(request: HttpRequest, pk: int) -> HttpResponse:
    macro = _macro(request, pk)
    do_delete_macro(macro)
    messages.success(request, f"Macro “{macro.name}” deleted.")
    return redirect("settings:macros")


@require_POST
@require_permission("macros.manage")
def step_add(request: HttpRequest, pk: int) -> HttpResponse:
    macro = _macro(request, pk)
    kind = request.POST.get("kind", "")
    # Each kind has its own field on the form (only the chosen kind's is shown).
    target_field = {
        MacroStep.Kind.ADD_LABEL: "label",
        MacroStep.Kind.REMOVE_LABEL: "label",
        MacroStep.Kind.ASSIGN_AGENT: "agent",
        MacroStep.Kind.ASSIGN_TEAM: "team",
        MacroStep.Kind.SEND_CANNED: "canned_response",
    }.get(kind)
    try:
        step = do_add_macro_step(
            macro,
            kind=kind,
            target_id=request.POST.get(target_field) if target_field else None,
            note=request.POST.get("note", "") if kind == MacroStep.Kind.ADD_NOTE else "",
            snooze_minutes=request.POST.get("snooze_minutes")
            if kind == MacroStep.Kind.SNOOZE
            else None,
        )
    except ActionError as exc:
        status = refused_status(request, exc)
        return _page(request, editing=macro, form=request.POST.dict(), status=status)
    messages.success(request, f"Step {step.position} added: {describe_step(step)}.")
    return redirect("settings:macro-edit", pk=macro.pk)


def _step(request: HttpRequest, pk: int, step_pk: int) -> MacroStep:
    macro = _macro(request, pk)
    return get_in_tenant(MacroStep.objects.filter(macro=macro), request.tenant, pk=step_pk)


@require_POST
@require_permission("macros.manage")
def step_move(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    do_move_macro_step(_step(request, pk, step_pk), up=request.POST.get("direction") == "up")
    return redirect("settings:macro-edit", pk=pk)


@require_POST
@require_permission("macros.manage")
def step_remove(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = _step(request, pk, step_pk)
    do_remove_macro_step(step)
    messages.success(request, f"Step removed: {describe_step(step)}.")
    return redirect("settings:macro-edit", pk=pk)

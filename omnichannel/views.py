from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from omnichannel.actions import ActionError, do_switch_tenant, do_update_preferences
from omnichannel.forms import PreferencesForm
from omnichannel.models import UserPreference
from omnichannel.tenancy import require_permission, tenant_zone
from omnichannel.zones import preferred_zone_name, zone_label


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if request.membership is None:
        return redirect("no-tenant")
    return redirect("inbox:index")


SECTIONS = {
    # section: (title, permission, what the empty state tells the user)
    "calls": ("Calls", "calls.view", "No calls yet."),
    "reports": ("Reports", "reports.view", "Nothing to report yet."),
}


def section(request: HttpRequest, section: str) -> HttpResponse:
    """The landing page of a product area, until that area's own views replace it."""
    from django.http import Http404

    if section not in SECTIONS:
        raise Http404("No such section.")
    title, permission, empty = SECTIONS[section]

    @require_permission(permission)
    def view(request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "omnichannel/section.html",
            {"title": title, "section": section, "empty": empty},
        )

    return view(request)


@login_required
def no_tenant(request: HttpRequest) -> HttpResponse:
    if request.membership is not None:
        return redirect("home")
    return render(request, "omnichannel/no_tenant.html", status=403)


@login_required
@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    try:
        membership = do_switch_tenant(request, tenant_id=int(request.POST.get("tenant", "")))
    except (ValueError, ActionError):
        messages.error(request, "You are not a member of that tenant.")
        return redirect("home")
    messages.success(request, f"Switched to {membership.tenant.name}.")
    return redirect("home")


@login_required
@require_POST
def set_theme(request: HttpRequest) -> HttpResponse:
    theme = request.POST.get("theme", "")
    if theme not in UserPreference.Theme.values:
        return HttpResponse("Theme must be dark or light.", status=400)
    UserPreference.objects.update_or_create(user=request.user, defaults={"theme": theme})
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    if request.htmx:
        return HttpResponse(status=204)
    return redirect(next_url)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The person's own settings: the time zone they read times in, their theme."""
    tenant_zone_name = tenant_zone(request.tenant).key if request.tenant else "UTC"
    preference = getattr(request.user, "preference", None)
    initial = {
        "timezone": preferred_zone_name(request.user),
        "theme": preference.theme if preference else UserPreference.Theme.DARK,
    }
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        tenant_zone_name=tenant_zone_name,
    )
    if request.method == "POST":
        if form.is_valid():
            do_update_preferences(
                request.user,
                timezone_name=form.cleaned_data["timezone"],
                theme=form.cleaned_data["theme"],
            )
            messages.success(request, "Saved your preferences.")
            return redirect("preferences")
        status = 400
    else:
        status = 200
    return render(
        request,
        "omnichannel/preferences.html",
        {"form": form, "zone_label": zone_label(timezone.get_current_timezone())},
        status=status,
    )

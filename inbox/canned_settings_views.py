"""Settings → Labels & canned responses, the canned responses part: the page is the core's
labels page (``omnichannel.settings_views.labels_page``), where the inbox adds its canned
responses below the labels. Everything needs ``canned_responses.manage``.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from inbox.actions.labels import (
    do_create_canned_response,
    do_delete_canned_response,
    do_update_canned_response,
)
from inbox.forms import CannedResponseForm
from inbox.models import CannedResponse
from omnichannel.actions import ActionError
from omnichannel.settings_nav import PagePart
from omnichannel.settings_views import labels_page, refused_status, show_form_errors
from omnichannel.tenancy import get_in_tenant, require_permission


def canned_responses_context(
    request: HttpRequest,
    *,
    canned_form: CannedResponseForm | None = None,
    editing: CannedResponse | None = None,
) -> dict:
    """The names ``inbox/settings/canned_responses.html`` uses; ``editing`` is the canned
    response whose form is shown (a new one without it)."""
    return {
        "canned_responses": CannedResponse.objects.for_tenant(request.tenant).order_by(
            "shortcut", "id"
        ),
        "canned_form": canned_form or CannedResponseForm(),
        "editing": editing,
    }


LABELS_PAGE_PART = PagePart("inbox/settings/canned_responses.html", canned_responses_context)


@require_POST
@require_permission("canned_responses.manage")
def canned_create(request: HttpRequest) -> HttpResponse:
    form = CannedResponseForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
        return labels_page(request, canned_form=form, status=400)
    try:
        canned = do_create_canned_response(
            request.tenant,
            shortcut=form.cleaned_data["shortcut"],
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            acting_user=request.user,
        )
    except ActionError as exc:
        return labels_page(request, canned_form=form, status=refused_status(request, exc))
    messages.success(request, f"Canned response /{canned.shortcut} created.")
    return redirect("settings:labels")


@require_http_methods(["GET", "POST"])
@require_permission("canned_responses.manage")
def canned_edit(request: HttpRequest, pk: int) -> HttpResponse:
    canned = get_in_tenant(CannedResponse, request.tenant, pk=pk)
    if request.method == "GET":
        initial = {"shortcut": canned.shortcut, "title": canned.title, "body": canned.body}
        return labels_page(request, canned_form=CannedResponseForm(initial=initial), editing=canned)
    form = CannedResponseForm(request.POST)
    if not form.is_valid():
        show_form_errors(request, form)
        return labels_page(request, canned_form=form, editing=canned, status=400)
    try:
        do_update_canned_response(
            canned,
            shortcut=form.cleaned_data["shortcut"],
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
        )
    except ActionError as exc:
        canned.refresh_from_db()
        status = refused_status(request, exc)
        return labels_page(request, canned_form=form, editing=canned, status=status)
    messages.success(request, f"Canned response /{canned.shortcut} saved.")
    return redirect("settings:labels")


@require_POST
@require_permission("canned_responses.manage")
def canned_delete(request: HttpRequest, pk: int) -> HttpResponse:
    canned = get_in_tenant(CannedResponse, request.tenant, pk=pk)
    do_delete_canned_response(canned)
    messages.success(request, f"Canned response /{canned.shortcut} deleted.")
    return redirect("settings:labels")

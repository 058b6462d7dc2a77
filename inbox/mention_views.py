"""The private-note composer's ``@`` suggestions: members of the tenant to mention."""

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inbox.actions.notify import mentionable_members, user_label
from omnichannel.tenancy import require_permission

SUGGESTIONS = 8


@require_GET
@require_permission("conversations.note")
def mention_suggestions(request: HttpRequest) -> HttpResponse:
    """Members (other than the writer) who see conversations, whose name or email contains
    ``q``."""
    query = request.GET.get("q", "").strip()[:100]
    members = mentionable_members(request.tenant).exclude(user=request.user)
    for word in query.split():
        members = members.filter(
            Q(user__first_name__icontains=word)
            | Q(user__last_name__icontains=word)
            | Q(user__email__icontains=word)
        )
    found = [
        (m.user, user_label(m.user))
        for m in members[: SUGGESTIONS * 3]
        if m.has_permission("conversations.view")
    ][:SUGGESTIONS]
    return render(request, "inbox/mention_suggestions.html", {"members": found})

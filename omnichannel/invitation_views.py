"""Accepting an invitation: signed-in users join at once; newcomers choose a password."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.password_validation import validate_password
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from omnichannel.actions import (
    ACTION_ERROR_STATUS,
    ActionError,
    check_invitation_usable,
    do_accept_invitation,
    do_switch_tenant,
    find_invitation,
)
from omnichannel.zones import display_zone, zone_label


class NewAccountForm(forms.Form):
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        if data.get("password1"):
            from django.contrib.auth import get_user_model

            validate_password(data["password1"], get_user_model()(email=self.email))
        return data


def accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = find_invitation(token)
    try:
        check_invitation_usable(invitation)
    except ActionError as exc:
        return render(
            request,
            "omnichannel/invitation.html",
            {"error": exc.message},
            status=ACTION_ERROR_STATUS.get(exc.code, 400),
        )
    user = request.user if request.user.is_authenticated else None
    from django.contrib.auth import get_user_model

    has_account = get_user_model().objects.filter(email__iexact=invitation.email).exists()
    form = NewAccountForm(request.POST or None, email=invitation.email)
    # Someone not signed in has no zone of their own yet: the tenant's, named on the page.
    zone = display_zone(user, invitation.tenant)
    context = {
        "invitation": invitation,
        "form": form,
        "has_account": has_account,
        "user": user,
        "expiry_zone": zone_label(zone, invitation.expires_at),
    }
    if request.method != "POST":
        with timezone.override(zone):
            return render(request, "omnichannel/invitation.html", context)
    if user is None and not form.is_valid():
        with timezone.override(zone):
            return render(request, "omnichannel/invitation.html", context, status=400)
    try:
        membership = do_accept_invitation(
            token,
            user=user,
            password=form.cleaned_data.get("password1") if user is None else None,
            request=request,
        )
    except ActionError as exc:
        context["error"] = exc.message
        return render(
            request,
            "omnichannel/invitation.html",
            context,
            status=ACTION_ERROR_STATUS.get(exc.code, 400),
        )
    if user is None:
        login(request, membership.user, backend="omnichannel.accounts.ModelBackend")
    do_switch_tenant(request, tenant_id=membership.tenant_id)
    messages.success(request, f"Welcome to {membership.tenant.name}.")
    return redirect("home")

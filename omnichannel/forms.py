"""Forms for the tenant settings area and a person's preferences: they parse input; the actions
decide."""

from django import forms

from omnichannel import permissions
from omnichannel.actions import (
    ActionError,
    check_preferred_zone,
    check_region,
    check_timezone_name,
)
from omnichannel.models import AuditEvent, LabelColor, Role, Tenant, UserPreference
from omnichannel.permissions import BuiltinRole
from omnichannel.zones import zone_choices


def _tenant_roles(tenant: Tenant):
    return Role.objects.filter(tenant=tenant).order_by("id")


def _grantable_role_field(form: forms.Form, tenant: Tenant) -> None:
    """The tenant's roles, Agent preselected: a form sent without a second look must not grant
    Owner (the first role by id). The roles are read once, for the options and the default."""
    field = form.fields["role"]
    field.queryset = _tenant_roles(tenant)
    roles = list(field.queryset)
    field.choices = [(role.pk, role.name) for role in roles]
    field.initial = next((r.pk for r in roles if r.builtin == BuiltinRole.AGENT), None)


class TenantSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    timezone = forms.CharField(
        max_length=64,
        label="Time zone",
        help_text=(
            "An IANA name such as Europe/Madrid. Members read times in it unless they chose "
            "their own under Your preferences."
        ),
    )
    default_region = forms.CharField(
        max_length=2,
        min_length=2,
        label="Default phone region",
        help_text="Two-letter country code used to read national phone numbers.",
    )
    contact_hourly_limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10_000,
        label="Messages per contact per hour",
        help_text=(
            "Automated sends (API, notifications, an agent writing first) past this limit are "
            "refused until the hour passes. Empty: the default."
        ),
    )
    contact_reply_hourly_limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10_000,
        label="Replies per contact per hour",
        help_text=(
            "For agents answering a contact who wrote within the hour; at least the limit "
            "above. Empty: the default."
        ),
    )
    require_mfa = forms.BooleanField(
        required=False,
        label="Require two-factor authentication",
        help_text="Members without an authenticator app are sent to set one up.",
    )

    def clean_timezone(self) -> str:
        try:
            return check_timezone_name(self.cleaned_data["timezone"])
        except ActionError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_default_region(self) -> str:
        try:
            return check_region(self.cleaned_data["default_region"])
        except ActionError as exc:
            raise forms.ValidationError(exc.message) from exc


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ModelChoiceField(queryset=Role.objects.none(), empty_label=None)

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _grantable_role_field(self, tenant)


class MemberRoleForm(forms.Form):
    role = forms.ModelChoiceField(queryset=Role.objects.none())

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = _tenant_roles(tenant)


class RoleForm(forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=300, required=False)
    permissions = forms.MultipleChoiceField(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The registry fills in at startup, so the choices are read per form.
        self.fields["permissions"].choices = [
            (p.codename, p.label) for p in permissions.all_permissions()
        ]

    def selected(self) -> set[str]:
        """The codenames to show ticked: what was posted, else the role's own."""
        if self.is_bound:
            return set(self.data.getlist("permissions"))
        return set(self.initial.get("permissions", []))


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, such as “CRM sync”.")
    role = forms.ModelChoiceField(queryset=Role.objects.none(), empty_label=None)

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _grantable_role_field(self, tenant)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        required=False, choices=[("", "All actions"), *AuditEvent.Action.choices]
    )


class LabelForm(forms.Form):
    name = forms.CharField(max_length=50)
    color = forms.ChoiceField(label="Colour", choices=LabelColor.choices, initial=LabelColor.BLUE)


class PreferencesForm(forms.Form):
    """A person's own display settings; the zone list comes from the zoneinfo database."""

    timezone = forms.ChoiceField(
        required=False,
        label="Time zone",
        help_text="Every time Centro shows you reads in this zone.",
        error_messages={
            "invalid_choice": "“%(value)s” is not a time zone we know; pick one from the list "
            "(such as America/Mexico_City), or leave it on your tenant's."
        },
    )
    theme = forms.ChoiceField(choices=UserPreference.Theme.choices)

    def __init__(self, *args, tenant_zone_name: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [
            ("", f"Your tenant's ({tenant_zone_name})"),
            *zone_choices(),
        ]

    def clean_timezone(self) -> str:
        try:
            return check_preferred_zone(self.cleaned_data["timezone"])
        except ActionError as exc:
            raise forms.ValidationError(exc.message) from exc

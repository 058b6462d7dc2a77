"""Django admin for platform staff: tenants, members, roles, tokens, labels and the audit trail.

Secrets never reach the page: API tokens show their hint only, invitation token hashes are
hidden, and encrypted credential fields (:class:`EncryptedFieldsAdminMixin`) show a mask and
keep the stored value unless a new one is typed.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html

from omnichannel import permissions
from omnichannel.actions import do_revoke_api_token
from omnichannel.crypto import EncryptedTextField, mask_secret
from omnichannel.models import (
    ApiToken,
    AuditEvent,
    Invitation,
    Label,
    Membership,
    Role,
    Tenant,
    WebhookEvent,
)

# --- Encrypted credentials ---------------------------------------------------------------------


class MaskedSecretInput(forms.PasswordInput):
    """A password box that never renders the secret; it shows ``••••abcd`` as placeholder."""

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs, render_value=False)

    def get_context(self, name, value, attrs):
        attrs = {**(attrs or {}), "autocomplete": "new-password"}
        if value:
            attrs["placeholder"] = f"{mask_secret(str(value))} (leave blank to keep)"
        return super().get_context(name, value, attrs)

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        if not value:
            return html
        return format_html(
            '{} <label><input type="checkbox" name="{}"> Clear the stored value</label>',
            html,
            clear_checkbox_name(name),
        )


def clear_checkbox_name(name: str) -> str:
    return f"{name}__clear"


class EncryptedFieldsForm(forms.ModelForm):
    """Blank keeps an encrypted field's stored value; the "clear" box empties it."""

    def clean(self):
        cleaned_data = super().clean()
        for name, field in self.fields.items():
            if not isinstance(field.widget, MaskedSecretInput) or name not in cleaned_data:
                continue
            if cleaned_data[name]:
                continue
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            clear = self.data.get(self.add_prefix(clear_checkbox_name(name)))
            if current and not clear:
                cleaned_data[name] = current
            elif not self.instance._meta.get_field(name).blank:
                self.add_error(name, "This credential is required.")
        return cleaned_data


class EncryptedFieldsAdminMixin:
    """Mix into a ModelAdmin or inline whose model has :class:`EncryptedTextField` fields.

    A custom ``form`` must subclass :class:`EncryptedFieldsForm`.
    """

    form = EncryptedFieldsForm
    formfield_overrides = {
        EncryptedTextField: {
            "widget": MaskedSecretInput,
            "required": False,
            "strip": False,
            "help_text": "Stored encrypted. Type a new value to replace it.",
        }
    }


# --- Tenancy -----------------------------------------------------------------------------------


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Role
        fields = ["tenant", "name", "builtin", "description", "permissions"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "permissions" in self.fields:  # read-only on built-in roles
            self.fields["permissions"].choices = [
                (p.codename, f"{p.codename} — {p.label}") for p in permissions.all_permissions()
            ]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role":
            tenant_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Role.objects.filter(tenant_id=tenant_id or None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "role")


class RoleInline(admin.TabularInline):
    model = Role
    extra = 0
    fields = ["name", "builtin", "description"]
    readonly_fields = ["builtin"]
    show_change_link = True


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "require_mfa", "member_count", "created_at"]
    list_filter = ["is_active", "require_mfa"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]
    inlines = [RoleInline, MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count", description="Members")
    def member_count(self, tenant: Tenant) -> int:
        return tenant.member_count


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    form = RoleForm
    list_display = ["name", "tenant", "builtin", "description"]
    list_filter = ["builtin"]
    list_select_related = ["tenant"]
    search_fields = ["name", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]

    def get_readonly_fields(self, request, obj=None):
        # Built-in roles follow the permission registry; their stored list is unused.
        if obj is not None and obj.is_builtin:
            return ["tenant", "builtin", "permissions", "effective_permissions"]
        return ["builtin", "effective_permissions"] if obj is not None else []

    @admin.display(description="Permissions granted")
    def effective_permissions(self, role: Role) -> str:
        return ", ".join(sorted(role.codenames())) or "—"


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role__builtin"]
    list_select_related = ["user", "tenant", "role"]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
    readonly_fields = ["created_at"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["accepted_at", "revoked_at"]
    list_select_related = ["tenant", "role"]
    search_fields = ["email", "tenant__name"]
    # The token hash is never shown; invitations are created and revoked in the app.
    fields = [
        "tenant",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False


# --- API tokens and audit ----------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "hint_display", "tenant", "role", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["tenant", "role"]
    search_fields = ["name", "hint", "tenant__name", "tenant__slug"]
    # token_hash is deliberately absent: only the hint identifies a token.
    fields = [
        "tenant",
        "name",
        "role",
        "hint_display",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = [f for f in fields if f != "name"]
    actions = ["revoke"]

    @admin.display(description="Token", ordering="hint")
    def hint_display(self, token: ApiToken) -> str:
        return f"{token.hint}…"

    def has_add_permission(self, request) -> bool:
        # Tokens are created in the app or with manage.py create_api_token (shown once there).
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True).select_related("tenant"))
        for token in tokens:
            do_revoke_api_token(token, request=request)
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "color", "created_at"]
    list_filter = ["color"]
    list_select_related = ["tenant"]
    search_fields = ["name", "tenant__name"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "tenant", "actor", "target_repr", "ip_address"]
    list_filter = ["action"]
    list_select_related = ["tenant", "actor"]
    search_fields = ["target_repr", "actor__email", "tenant__name", "ip_address"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """The journal is evidence: staff read it; replays go through `manage.py replay_webhooks`."""

    list_display = ["id", "tenant", "inbox", "kind", "state", "external_id", "received_at"]
    list_filter = ["kind", "state", "provider"]
    list_select_related = ["tenant", "inbox"]
    search_fields = ["external_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

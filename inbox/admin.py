import json

from django.contrib import admin

from inbox.models import (
    Attachment,
    CannedResponse,
    Conversation,
    ConversationLabel,
    Delivery,
    Inbox,
    Message,
)
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.admin import EncryptedFieldsAdminMixin, EncryptedFieldsForm
from omnichannel.models import AuditEvent


class InboxAdminForm(EncryptedFieldsForm):
    """Inboxes get the same checks as ``create_inbox`` and the API: their provider's schema."""

    def clean(self):
        from inbox.actions.inboxes import schema_for
        from inbox.providers import provider_class

        cleaned_data = super().clean()
        provider = cleaned_data.get("provider") or ""
        try:
            schema = schema_for(provider)
        except ActionError as exc:
            self.add_error("provider", exc.message)
            return cleaned_data
        kinds = provider_class(provider).kinds
        if cleaned_data.get("kind") not in kinds:
            self.add_error("kind", f"{provider} inboxes are of kind {' or '.join(kinds)}.")
            return cleaned_data
        try:
            cleaned_data["address"] = schema.clean_address(
                cleaned_data.get("address") or "",
                kind=cleaned_data["kind"],
                tenant=cleaned_data.get("tenant"),
            )
        except ActionError as exc:
            self.add_error("address", exc.message)
        try:
            credentials = json.loads(cleaned_data.get("credentials") or "{}")
            cleaned = schema.clean(credentials)
        except ValueError:
            self.add_error("credentials", "Credentials are a JSON object.")
        except ActionError as exc:
            self.add_error("credentials", exc.message)
        else:
            cleaned_data["credentials"] = json.dumps(cleaned, sort_keys=True)
        return cleaned_data


@admin.register(Inbox)
class InboxAdmin(EncryptedFieldsAdminMixin, admin.ModelAdmin):
    form = InboxAdminForm
    list_display = ["name", "tenant", "kind", "provider", "address", "is_active", "created_at"]
    list_filter = ["kind", "provider", "is_active"]
    list_select_related = ["tenant"]
    search_fields = ["name", "address", "tenant__name"]
    readonly_fields = ["webhook_token", "created_at"]

    def save_model(self, request, obj, form, change) -> None:
        # Compare stored values: a blank masked field keeps the secret yet counts as "changed".
        before = Inbox.objects.filter(pk=obj.pk).values_list("credentials", flat=True).first()
        super().save_model(request, obj, form, change)
        if obj.credentials != before:
            audit.record(
                AuditEvent.Action.CREDENTIAL_CHANGED,
                tenant=obj.tenant,
                actor=request.user,
                target=obj,
                request=request,
                data={"via": "admin"},
            )


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["provider", "recipient", "status", "provider_message_id", "attempts", "error_code"]
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "direction", "sender_type", "status", "created_at"]
    list_filter = ["direction", "status", "sender_type"]
    list_select_related = ["tenant"]
    search_fields = ["external_id"]
    raw_id_fields = ["conversation", "inbox", "author"]
    inlines = [DeliveryInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "inbox", "contact", "status", "assignee", "last_message_at"]
    list_filter = ["status"]
    list_select_related = ["tenant", "inbox", "contact", "assignee"]
    raw_id_fields = ["inbox", "contact", "assignee"]


admin.site.register(Attachment, list_display=["id", "tenant", "message", "status", "content_type"])


@admin.register(ConversationLabel)
class ConversationLabelAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "conversation", "label", "added_by", "created_at"]
    list_select_related = ["tenant", "label", "added_by"]
    raw_id_fields = ["conversation", "label", "added_by"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "tenant", "created_by", "updated_at"]
    list_select_related = ["tenant", "created_by"]
    search_fields = ["shortcut", "title", "tenant__name"]
    raw_id_fields = ["created_by"]

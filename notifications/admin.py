from django.contrib import admin, messages

from notifications.actions import do_cancel_notification
from notifications.models import (
    Event,
    EventType,
    Notification,
    NotificationRule,
    NotificationTemplate,
)
from omnichannel.actions import ActionError


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "tenant", "effect", "subject_key"]
    list_filter = ["effect"]
    list_select_related = ["tenant"]
    search_fields = ["key", "name"]


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "language", "category", "tenant", "updated_at"]
    list_filter = ["language", "category"]
    list_select_related = ["tenant"]
    search_fields = ["key", "name", "body"]


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "event_type", "template", "timing", "offset", "unit", "is_active"]
    list_filter = ["timing", "is_active"]
    list_select_related = ["event_type", "template"]
    raw_id_fields = ["event_type", "template"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "tenant", "contact", "subject", "received_at"]
    list_select_related = ["event_type", "tenant", "contact"]
    search_fields = ["idempotency_key", "subject"]
    raw_id_fields = ["contact", "event_type"]
    readonly_fields = ["fingerprint", "received_at"]


@admin.action(description="Cancel the selected scheduled notifications")
def cancel_notifications(modeladmin, request, queryset) -> None:
    cancelled = 0
    for notification in queryset.filter(status=Notification.Status.SCHEDULED):
        try:
            do_cancel_notification(notification, acting_user=request.user)
            cancelled += 1
        except ActionError as exc:
            modeladmin.message_user(request, f"{notification}: {exc.message}", messages.WARNING)
    modeladmin.message_user(request, f"{cancelled} notification(s) cancelled.")


# Status, lease and message move only through notifications.actions / sending.
@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "rule", "contact", "tenant", "status", "due_at", "channel"]
    list_filter = ["status", "channel"]
    list_select_related = ["rule", "contact", "tenant"]
    search_fields = ["subject"]
    readonly_fields = [
        "tenant", "rule", "event", "contact", "subject", "data", "status", "due_at",
        "lease_token", "lease_expires_at", "attempts", "channel", "message", "detail",
        "cancelled_by", "created_at", "finished_at",
    ]  # fmt: skip
    actions = [cancel_notifications]

    def has_add_permission(self, request) -> bool:
        return False

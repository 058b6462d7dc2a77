from django.contrib import admin, messages

from campaigns.lifecycle import do_cancel_campaign, do_pause_campaign, do_resume_campaign
from campaigns.models import Campaign, CampaignRecipient, MessageTemplate, TemplateMedia
from omnichannel.actions import ActionError


class TemplateMediaInline(admin.TabularInline):
    model = TemplateMedia
    fields = ["filename", "content_type", "size", "position", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "channel", "updated_at"]
    list_filter = ["channel"]
    list_select_related = ["tenant"]
    search_fields = ["name", "body"]
    inlines = [TemplateMediaInline]


# Counters and states move only through campaigns.lifecycle and the engine (they must stay
# equal to the recipient rows), so the admin shows them and offers the lifecycle's actions.
COUNTERS = ["total", "pending", "sent", "failed", "skipped", "unknown", "cancelled", "replied"]


def _apply(modeladmin, request, queryset, action, done: str) -> None:
    changed = 0
    for campaign in queryset:
        try:
            action(campaign, acting_user=request.user)
            changed += 1
        except ActionError as exc:
            modeladmin.message_user(request, f"{campaign}: {exc.message}", messages.WARNING)
    if changed:
        modeladmin.message_user(request, f"{changed} campaign(s) {done}.")


@admin.action(description="Pause the selected campaigns")
def pause(modeladmin, request, queryset) -> None:
    _apply(modeladmin, request, queryset, do_pause_campaign, "paused")


@admin.action(description="Resume the selected campaigns")
def resume(modeladmin, request, queryset) -> None:
    _apply(modeladmin, request, queryset, do_resume_campaign, "resumed")


@admin.action(description="Cancel the selected campaigns")
def cancel(modeladmin, request, queryset) -> None:
    _apply(modeladmin, request, queryset, do_cancel_campaign, "cancelled")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "status", "inbox", "sent", "total", "created_at"]
    list_filter = ["status", "pacing"]
    list_select_related = ["tenant", "inbox"]
    search_fields = ["name", "tenant__name"]
    actions = [pause, resume, cancel]
    readonly_fields = [
        "status",
        "pause_reason",
        "paused_by_breaker",
        *COUNTERS,
        "launched_at",
        "started_at",
        "finished_at",
        "last_batch_at",
        "created_by",
        "created_at",
    ]
    raw_id_fields = ["inbox", "template"]
    filter_horizontal = ["lists", "segments"]

    def has_add_permission(self, request) -> bool:
        return False  # campaigns are built in the app, where their inputs are validated


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    list_display = ["address", "campaign", "status", "skip_reason", "error_code", "sent_at"]
    list_filter = ["status", "skip_reason"]
    list_select_related = ["campaign"]
    search_fields = ["address", "provider_message_id"]
    raw_id_fields = ["campaign", "contact", "message"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

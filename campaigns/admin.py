from django.contrib import admin

from campaigns.models import MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "channel", "updated_at"]
    list_filter = ["channel"]
    list_select_related = ["tenant"]
    search_fields = ["name", "body"]

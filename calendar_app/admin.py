from django.contrib import admin

from calendar_app.models import (
    Appointment,
    AppointmentResource,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Resource,
)


class AvailabilityRuleInline(admin.TabularInline):
    model = AvailabilityRule
    fields = ["weekday", "start_time", "end_time"]
    extra = 0


class AvailabilityExceptionInline(admin.TabularInline):
    model = AvailabilityException
    fields = ["kind", "start_date", "end_date", "start_time", "end_time", "reason"]
    extra = 0


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "tenant", "timezone", "is_active"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["tenant"]
    search_fields = ["name"]
    raw_id_fields = ["user"]
    exclude = ["ics_token"]  # a secret: set through calendar_app.actions.do_set_ics_token
    inlines = [AvailabilityRuleInline, AvailabilityExceptionInline]

    def save_formset(self, request, form, formset, change) -> None:
        # Inline rows belong to the resource's tenant.
        for row in formset.save(commit=False):
            row.tenant_id = form.instance.tenant_id
            row.save()
        for row in formset.deleted_objects:
            row.delete()


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "duration_minutes", "hold_minutes", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["tenant"]
    search_fields = ["name"]
    filter_horizontal = ["resources"]


class AppointmentResourceInline(admin.TabularInline):
    model = AppointmentResource
    fields = ["resource", "during", "state"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# States and times move only through calendar_app.actions (the constraint's rows follow them).
@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["id", "appointment_type", "contact", "tenant", "state", "start_at"]
    list_filter = ["state"]
    list_select_related = ["appointment_type", "contact", "tenant"]
    date_hierarchy = "start_at"
    raw_id_fields = ["contact", "conversation", "created_by"]
    readonly_fields = [
        "tenant", "contact", "appointment_type", "start_at", "end_at", "state",
        "hold_expires_at", "version", "created_by", "created_at", "updated_at", "cancelled_at",
    ]  # fmt: skip
    inlines = [AppointmentResourceInline]

    def has_add_permission(self, request) -> bool:
        return False

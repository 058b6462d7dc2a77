from django.contrib import admin

from contacts.models import Consent, Contact


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    fields = ["channel", "sender", "status", "source", "detail", "changed_at"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tenant", "phone", "email", "created_at"]
    list_select_related = ["tenant"]
    search_fields = ["name", "phone", "email"]
    inlines = [ConsentInline]

    def save_formset(self, request, form, formset, change) -> None:
        for consent in formset.save(commit=False):
            consent.tenant_id = form.instance.tenant_id
            consent.save()
        for deleted in formset.deleted_objects:
            deleted.delete()

"""Platform staff's view of contacts. Phones, emails and households are shown read-only: their
rules (one primary mirrored on the contact, E.164, protected members) live in
``contacts.services``, which the admin would bypass."""

from django.contrib import admin

from contacts.models import (
    AttributeDefinition,
    BlockedAddress,
    Consent,
    Contact,
    ContactEmail,
    ContactPhone,
    HouseholdMember,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PhoneInline(ReadOnlyInline):
    model = ContactPhone
    fields = ["number", "kind", "is_primary", "created_at"]
    readonly_fields = fields


class EmailInline(ReadOnlyInline):
    model = ContactEmail
    fields = ["email", "is_primary", "created_at"]
    readonly_fields = fields


class HouseholdInline(ReadOnlyInline):
    model = HouseholdMember
    fk_name = "contact"
    fields = ["name", "relationship", "date_of_birth", "source", "confirmed_at"]
    readonly_fields = fields


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    fields = ["channel", "sender", "status", "source", "detail", "changed_at"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tenant", "phone", "email", "created_via", "created_at", "erased_at"]
    list_filter = ["created_via"]
    list_select_related = ["tenant"]
    search_fields = ["name", "phone", "email"]
    readonly_fields = ["phone", "email", "erased_at", "created_at", "updated_at"]
    inlines = [PhoneInline, EmailInline, HouseholdInline, ConsentInline]

    def save_formset(self, request, form, formset, change) -> None:
        for row in formset.save(commit=False):
            row.tenant_id = form.instance.tenant_id
            row.save()
        for deleted in formset.deleted_objects:
            deleted.delete()


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    """Read-only: changing a type here would skip the conversion of stored values."""

    list_display = ["label", "key", "type", "tenant", "is_required"]
    list_select_related = ["tenant"]
    search_fields = ["key", "label", "tenant__name"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(BlockedAddress)
class BlockedAddressAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "tenant", "reason", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["tenant"]
    search_fields = ["value", "tenant__name"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

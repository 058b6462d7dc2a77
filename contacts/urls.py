from django.urls import include, path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("", include("contacts.list_urls")),
    path("import/", include("contacts.import_urls")),
    path("new/", views.create, name="create"),
    path("attributes/", views.attribute_definitions, name="attributes"),
    path(
        "attributes/<int:definition_id>/",
        views.attribute_definition_edit,
        name="attribute-edit",
    ),
    path(
        "attributes/<int:definition_id>/delete/",
        views.attribute_definition_delete,
        name="attribute-delete",
    ),
    path("blocklist/", views.blocklist, name="blocklist"),
    path("blocklist/<int:blocked_id>/remove/", views.unblock, name="unblock"),
    path("<int:contact_id>/", views.detail, name="detail"),
    path("<int:contact_id>/edit/", views.edit, name="edit"),
    path("<int:contact_id>/delete/", views.delete, name="delete"),
    path("<int:contact_id>/phones/", views.phone_add, name="phone-add"),
    path(
        "<int:contact_id>/phones/<int:phone_id>/primary/",
        views.phone_primary,
        name="phone-primary",
    ),
    path("<int:contact_id>/phones/<int:phone_id>/remove/", views.phone_remove, name="phone-remove"),
    path("<int:contact_id>/emails/", views.email_add, name="email-add"),
    path(
        "<int:contact_id>/emails/<int:email_id>/primary/",
        views.email_primary,
        name="email-primary",
    ),
    path("<int:contact_id>/emails/<int:email_id>/remove/", views.email_remove, name="email-remove"),
    path("<int:contact_id>/attributes/", views.attributes_save, name="attributes-save"),
    path("<int:contact_id>/household/", views.household_add, name="household-add"),
    path(
        "<int:contact_id>/household/<int:member_id>/",
        views.household_edit,
        name="household-edit",
    ),
    path(
        "<int:contact_id>/household/<int:member_id>/confirm/",
        views.household_confirm,
        name="household-confirm",
    ),
    path(
        "<int:contact_id>/household/<int:member_id>/remove/",
        views.household_remove,
        name="household-remove",
    ),
    path("<int:contact_id>/consent/", views.consent_set, name="consent-set"),
    path("<int:contact_id>/labels/", views.label_add, name="label-add"),
    path("<int:contact_id>/labels/<int:label_id>/remove/", views.label_remove, name="label-remove"),
    path("<int:contact_id>/merge/", views.merge, name="merge"),
    path("<int:contact_id>/export/", views.export, name="export"),
    path("<int:contact_id>/erase/", views.erase, name="erase"),
]

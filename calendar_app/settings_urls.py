"""Settings → Calendar; included in the settings URLconf (names live in its namespace)."""

from django.urls import path

from calendar_app import settings_views as views

urlpatterns = [
    path("calendar/", views.calendar_settings, name="calendar"),
    path("calendar/resources/new/", views.resource_create, name="calendar-resource-create"),
    path("calendar/resources/<int:pk>/", views.resource_edit, name="calendar-resource"),
    path(
        "calendar/resources/<int:pk>/delete/",
        views.resource_delete,
        name="calendar-resource-delete",
    ),
    path("calendar/resources/<int:pk>/hours/", views.hours_add, name="calendar-hours-add"),
    path(
        "calendar/resources/<int:pk>/hours/<int:rule_pk>/remove/",
        views.hours_remove,
        name="calendar-hours-remove",
    ),
    path(
        "calendar/resources/<int:pk>/exceptions/",
        views.exception_add,
        name="calendar-exception-add",
    ),
    path(
        "calendar/resources/<int:pk>/exceptions/<int:exception_pk>/remove/",
        views.exception_remove,
        name="calendar-exception-remove",
    ),
    path("calendar/resources/<int:pk>/feed/", views.resource_feed, name="calendar-resource-feed"),
    path("calendar/types/new/", views.type_create, name="calendar-type-create"),
    path("calendar/types/<int:pk>/", views.type_edit, name="calendar-type"),
    path("calendar/types/<int:pk>/delete/", views.type_delete, name="calendar-type-delete"),
]

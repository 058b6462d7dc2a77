"""Settings → Notifications; included in the settings URLconf (names live in its namespace)."""

from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.rules, name="notification-rules"),
    path("notifications/rules/<int:pk>/", views.rule_detail, name="notification-rule"),
    path("notifications/log/", views.log, name="notification-log"),
    path(
        "notifications/event-types/new/",
        views.event_type_create,
        name="notification-event-type-create",
    ),
    path("notifications/templates/", views.templates, name="notification-templates"),
    path("notifications/templates/<int:pk>/", views.template_detail, name="notification-template"),
]

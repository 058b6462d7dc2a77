from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.rules, name="rules"),
    path("rules/<int:pk>/", views.rule_detail, name="rule"),
    path("event-types/new/", views.event_type_create, name="event-type-create"),
    path("templates/", views.templates, name="templates"),
    path("templates/<int:pk>/", views.template_detail, name="template"),
]

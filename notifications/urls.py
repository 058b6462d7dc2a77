from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("contacts/<int:contact_id>/", views.contact_log, name="contact-log"),
    path("<int:pk>/cancel/", views.notification_cancel, name="cancel"),
]

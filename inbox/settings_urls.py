"""Settings → Inboxes; added to the settings URLconf (names live in its namespace)."""

from django.urls import path

from inbox import settings_views as views

urlpatterns = [
    path("inboxes/", views.inbox_list, name="inboxes"),
    path("inboxes/<int:pk>/", views.inbox_detail, name="inbox"),
    path("inboxes/<int:pk>/edit/", views.inbox_update, name="inbox-update"),
    path("inboxes/<int:pk>/credentials/", views.inbox_credentials, name="inbox-credentials"),
]

"""Provider webhooks, mounted at /webhooks/: one route for every provider and endpoint, each
inbox with its own opaque token in the path (see ``inbox.webhooks.base``)."""

from django.urls import path

from inbox.webhooks.base import receive

app_name = "webhooks"

urlpatterns = [
    path("<slug:provider>/<str:token>/<slug:endpoint>/", receive, name="receive"),
]

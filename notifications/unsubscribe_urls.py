"""The unsubscribe link of marketing notifications, under /unsubscribe/ (mounted in
omnichannel/urls.py; the signed token is the credential, so no login)."""

from django.urls import path

from notifications import views

urlpatterns = [path("<str:token>/", views.unsubscribe, name="notifications-unsubscribe")]

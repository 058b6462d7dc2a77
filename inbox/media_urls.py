"""Short media links Twilio fetches outbound attachments from, under /m/ (mounted in
omnichannel/urls.py; the signed token is the credential, so no login)."""

from django.urls import path

from inbox import views

urlpatterns = [path("<str:token>/", views.media_link, name="media-link")]

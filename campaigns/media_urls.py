"""Short links to message templates' media, under /m/t/ (mounted in omnichannel/urls.py; the
signed token is the credential, so no login)."""

from django.urls import path

from campaigns import template_views

urlpatterns = [path("<str:token>/", template_views.media_file, name="template-media-link")]

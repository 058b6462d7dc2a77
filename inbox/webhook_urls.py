"""Provider webhooks, mounted at /webhooks/. Each inbox has its own opaque token in the path."""

from django.urls import path

from inbox.webhooks import twilio

app_name = "webhooks"

urlpatterns = [
    path("twilio/<str:token>/inbound/", twilio.inbound, name="twilio-inbound"),
    path("twilio/<str:token>/status/", twilio.status, name="twilio-status"),
]

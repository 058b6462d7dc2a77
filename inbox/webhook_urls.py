"""Provider webhooks, mounted at /webhooks/. Each inbox has its own opaque token in the path."""

from django.urls import path

from inbox.webhooks import anymail, twilio

app_name = "webhooks"

urlpatterns = [
    path("twilio/<str:token>/inbound/", twilio.inbound, name="twilio-inbound"),
    path("twilio/<str:token>/status/", twilio.status, name="twilio-status"),
    path("anymail/<str:token>/inbound/", anymail.inbound, name="anymail-inbound"),
    path("anymail/<str:token>/tracking/", anymail.tracking, name="anymail-tracking"),
]

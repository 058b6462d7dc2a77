"""Booking from a contact's panel (mounted at /calendar/book/ by omnichannel.urls)."""

from django.urls import path

from calendar_app import booking_views

app_name = "calendar-booking"

urlpatterns = [
    path("contacts/<int:contact_id>/", booking_views.booking, name="booking"),
    path("contacts/<int:contact_id>/hold/", booking_views.hold, name="hold"),
    path("appointments/<int:appointment_id>/confirm/", booking_views.confirm, name="confirm"),
    path("appointments/<int:appointment_id>/cancel/", booking_views.cancel, name="cancel"),
]

from django.urls import path

from calendar_app import views

app_name = "calendar"

urlpatterns = [
    path("", views.calendar, name="index"),
    path("appointments/<int:appointment_id>/", views.appointment_detail, name="appointment"),
    path(
        "appointments/<int:appointment_id>/confirm/",
        views.appointment_confirm,
        name="appointment-confirm",
    ),
    path(
        "appointments/<int:appointment_id>/cancel/",
        views.appointment_cancel,
        name="appointment-cancel",
    ),
    path(
        "appointments/<int:appointment_id>/complete/",
        views.appointment_complete,
        name="appointment-complete",
    ),
    path(
        "appointments/<int:appointment_id>/no-show/",
        views.appointment_no_show,
        name="appointment-no-show",
    ),
    path(
        "appointments/<int:appointment_id>/move/",
        views.appointment_move,
        name="appointment-move",
    ),
]

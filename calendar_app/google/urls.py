from django.urls import path

from calendar_app.google import push, views

app_name = "calendar_google"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
    path("calendars/<int:pk>/map/", views.map_calendar, name="calendar-map"),
    path("connections/<int:pk>/rule/", views.set_rule, name="connection-rule"),
    path("connections/<int:pk>/disconnect/", views.disconnect, name="connection-disconnect"),
    # Google's push notifications (no session, no CSRF: the channel token authenticates).
    path("push/<str:channel_id>/", push.receive, name="push"),
]

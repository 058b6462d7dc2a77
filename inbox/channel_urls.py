"""Settings → Channels; added to the settings URLconf (names live in its namespace). The old
Settings → Inboxes addresses redirect here for good."""

from django.urls import path

from inbox import bridge_views
from inbox import channel_views as views

urlpatterns = [
    path("channels/", views.channel_list, name="channels"),
    path("channels/connect/", views.channel_connect, name="channel-connect"),
    path("channels/<int:pk>/", views.channel_detail, name="channel"),
    path("channels/<int:pk>/edit/", views.channel_update, name="channel-update"),
    path("channels/<int:pk>/credentials/", views.channel_credentials, name="channel-credentials"),
    path("channels/<int:pk>/test/", views.channel_test, name="channel-test"),
    path("channels/<int:pk>/link/", views.channel_link, name="channel-link"),
    path("channels/<int:pk>/link/state/", views.channel_link_state, name="channel-link-state"),
    path(
        "channels/<int:pk>/unmatched/",
        bridge_views.unmatched_contacts,
        name="channel-unmatched",
    ),
    path(
        "channels/<int:pk>/unmatched/<int:unmatched_pk>/link/",
        bridge_views.link_unmatched,
        name="channel-unmatched-link",
    ),
    path("inboxes/", views.moved, {"to": "settings:channels"}),
    path("inboxes/<int:pk>/", views.moved, {"to": "settings:channel"}),
    path("inboxes/<int:pk>/edit/", views.moved, {"to": "settings:channel-update"}),
    path("inboxes/<int:pk>/credentials/", views.moved, {"to": "settings:channel-credentials"}),
]

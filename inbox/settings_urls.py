"""Settings → Channels, Teams & assignment, Macros, and the canned responses on the labels
page; included in the settings URLconf (names live in its namespace)."""

from django.urls import path

from inbox import canned_settings_views as canned
from inbox import macro_settings_views as macros
from inbox import team_settings_views as teams
from inbox.channel_urls import urlpatterns as channel_urlpatterns

urlpatterns = [
    *channel_urlpatterns,
    path("canned-responses/new/", canned.canned_create, name="canned-create"),
    path("canned-responses/<int:pk>/", canned.canned_edit, name="canned-edit"),
    path("canned-responses/<int:pk>/delete/", canned.canned_delete, name="canned-delete"),
    path("macros/", macros.macros, name="macros"),
    path("macros/new/", macros.macro_create, name="macro-create"),
    path("macros/<int:pk>/", macros.macro_edit, name="macro-edit"),
    path("macros/<int:pk>/delete/", macros.macro_delete, name="macro-delete"),
    path("macros/<int:pk>/steps/", macros.step_add, name="macro-step-add"),
    path("macros/<int:pk>/steps/<int:step_pk>/move/", macros.step_move, name="macro-step-move"),
    path(
        "macros/<int:pk>/steps/<int:step_pk>/remove/",
        macros.step_remove,
        name="macro-step-remove",
    ),
    path("teams/", teams.teams, name="teams"),
    path("teams/new/", teams.team_create, name="team-create"),
    path("teams/<int:pk>/delete/", teams.team_delete, name="team-delete"),
    path("teams/<int:pk>/members/", teams.team_member_add, name="team-member-add"),
    path(
        "teams/<int:pk>/members/<int:user_id>/remove/",
        teams.team_member_remove,
        name="team-member-remove",
    ),
    path("inboxes/<int:pk>/assignment/", teams.inbox_assignment, name="inbox-assignment"),
]

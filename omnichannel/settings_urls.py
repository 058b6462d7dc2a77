from django.urls import path

from inbox.channel_urls import urlpatterns as channel_urlpatterns
from inbox.settings_urls import urlpatterns as inbox_urlpatterns
from notifications.settings_urls import urlpatterns as notification_urlpatterns
from omnichannel import settings_views as views

app_name = "settings"

urlpatterns = [
    path("", views.index, name="index"),
    path("general/", views.general, name="general"),
    path("general/delete/", views.tenant_delete, name="tenant-delete"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite, name="member-invite"),
    path("members/<int:pk>/role/", views.member_role, name="member-role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("roles/", views.roles, name="roles"),
    path("roles/new/", views.role_create, name="role-create"),
    path("roles/<int:pk>/", views.role_edit, name="role-edit"),
    path("roles/<int:pk>/delete/", views.role_delete, name="role-delete"),
    path("labels/", views.labels, name="labels"),
    path("labels/new/", views.label_create, name="label-create"),
    path("labels/<int:pk>/delete/", views.label_delete, name="label-delete"),
    path("canned-responses/new/", views.canned_create, name="canned-create"),
    path("canned-responses/<int:pk>/", views.canned_edit, name="canned-edit"),
    path("canned-responses/<int:pk>/delete/", views.canned_delete, name="canned-delete"),
    path("teams/", views.teams, name="teams"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/<int:pk>/delete/", views.team_delete, name="team-delete"),
    path("teams/<int:pk>/members/", views.team_member_add, name="team-member-add"),
    path(
        "teams/<int:pk>/members/<int:user_id>/remove/",
        views.team_member_remove,
        name="team-member-remove",
    ),
    path("inboxes/<int:pk>/assignment/", views.inbox_assignment, name="inbox-assignment"),
    path("api-tokens/", views.api_tokens, name="api-tokens"),
    path("api-tokens/new/", views.api_token_create, name="api-token-create"),
    path("api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("audit/", views.audit_trail, name="audit"),
]
urlpatterns += inbox_urlpatterns
urlpatterns += channel_urlpatterns
urlpatterns += notification_urlpatterns

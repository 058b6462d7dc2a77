"""The settings area under /settings/: the core's pages, then the apps' (their URL names live in
this namespace too)."""

from django.urls import include, path

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
    path("api-tokens/", views.api_tokens, name="api-tokens"),
    path("api-tokens/new/", views.api_token_create, name="api-token-create"),
    path("api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("audit/", views.audit_trail, name="audit"),
    path("", include("inbox.settings_urls")),
    path("", include("notifications.settings_urls")),
    path("", include("calendar_app.settings_urls")),
]

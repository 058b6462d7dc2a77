"""Message template pages, under /campaigns/templates/ (mounted in omnichannel/urls.py)."""

from django.urls import path

from campaigns import template_views

app_name = "campaign-templates"

urlpatterns = [
    path("", template_views.template_list, name="list"),
    path("new/", template_views.template_create, name="create"),
    path("segments/", template_views.segments, name="segments"),
    path("preview/", template_views.template_preview, name="preview"),
    path("contacts/", template_views.contact_options, name="contacts"),
    path("<int:template_id>/", template_views.template_edit, name="edit"),
    path("<int:template_id>/delete/", template_views.template_delete, name="delete"),
    path("<int:template_id>/media/", template_views.media_add, name="media-add"),
    path(
        "<int:template_id>/media/<int:media_id>/remove/",
        template_views.media_remove,
        name="media-remove",
    ),
]

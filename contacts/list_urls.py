from django.urls import path

from contacts import list_views as views

# Included at /contacts/ inside the "contacts" namespace (contacts/urls.py).
urlpatterns = [
    path("", views.index, name="index"),
    path("lists/", views.lists, name="lists"),
    path("lists/create/", views.list_create, name="list-create"),
    path("lists/<int:list_id>/edit/", views.list_update, name="list-update"),
    path("lists/<int:list_id>/delete/", views.list_delete, name="list-delete"),
    path("segments/", views.segments, name="segments"),
    path("segments/create/", views.segment_create, name="segment-create"),
    path("segments/<int:segment_id>/edit/", views.segment_update, name="segment-update"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="segment-delete"),
    path("segments/<int:segment_id>/count/", views.segment_count_view, name="segment-count"),
    path("bulk/", views.bulk_list, name="bulk-list"),
    path("bulk/start/", views.bulk_start, name="bulk-start"),
    path("bulk/<int:operation_id>/", views.bulk_detail, name="bulk-detail"),
    path("bulk/<int:operation_id>/cancel/", views.bulk_cancel, name="bulk-cancel"),
]

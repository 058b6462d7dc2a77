from django.urls import path

from contacts import import_views as views

urlpatterns = [
    path("", views.import_upload, name="import-upload"),
    path("<int:job_id>/", views.import_detail, name="import-detail"),
    path("<int:job_id>/mapping/", views.import_mapping, name="import-mapping"),
    path("<int:job_id>/progress/", views.import_progress, name="import-progress"),
    path("<int:job_id>/cancel/", views.import_cancel, name="import-cancel"),
    path("<int:job_id>/report.csv", views.import_report, name="import-report"),
]

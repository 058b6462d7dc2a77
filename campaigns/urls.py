from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("preview/", views.preview, name="preview"),
    path("<int:campaign_id>/", views.detail, name="detail"),
    path("<int:campaign_id>/live/", views.live, name="live"),
    path("<int:campaign_id>/head/", views.head, name="head"),
    path("<int:campaign_id>/edit/", views.edit, name="edit"),
    path("<int:campaign_id>/launch/", views.launch, name="launch"),
    path("<int:campaign_id>/pause/", views.pause, name="pause"),
    path("<int:campaign_id>/resume/", views.resume, name="resume"),
    path("<int:campaign_id>/cancel/", views.cancel, name="cancel"),
    path("<int:campaign_id>/delete/", views.delete, name="delete"),
]

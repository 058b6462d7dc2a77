from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from campaigns import template_views
from inbox import views as inbox_views
from notifications import views as notification_views
from omnichannel import health, invitation_views, views
from omnichannel.api import api, mount_app_routers

mount_app_routers()

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/", include("allauth.urls")),
    path("invitations/<str:token>/", invitation_views.accept, name="invitation-accept"),
    path("tenants/none/", views.no_tenant, name="no-tenant"),
    path("tenants/switch/", views.switch_tenant, name="tenant-switch"),
    path("preferences/theme/", views.set_theme, name="theme-set"),
    path("settings/", include("omnichannel.settings_urls")),
    path("api/v1/", api.urls),
    path("webhooks/", include("inbox.webhook_urls")),
    path("m/<str:token>/", inbox_views.media_link, name="media-link"),
    path("m/t/<str:token>/", template_views.media_file, name="template-media-link"),
    path("admin/", admin.site.urls),
    path("inbox/", include("inbox.urls")),
    path("contacts/", include("contacts.urls")),
    # Its own module, listed first so no pattern of "campaigns/" can shadow it.
    path("campaigns/templates/", include("campaigns.template_urls")),
    path("campaigns/", include("campaigns.urls")),
    path("notifications/", include("notifications.urls")),
    path(
        "unsubscribe/<str:token>/",
        notification_views.unsubscribe,
        name="notifications-unsubscribe",
    ),
    path("<slug:section>/", views.section, name="section"),
]

if settings.DEBUG or settings.BENCH_ENDPOINTS:
    from inbox.bench_views import bench_noop

    urlpatterns.insert(0, path("__bench__/noop", bench_noop, name="bench-noop"))

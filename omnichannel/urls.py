from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from omnichannel import agent_notification_views as notify_views
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
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/theme/", views.set_theme, name="theme-set"),
    path("me/notifications/", notify_views.notifications, name="agent-notifications"),
    path(
        "me/notifications/<int:pk>/open/",
        notify_views.notification_open,
        name="agent-notification-open",
    ),
    path(
        "me/notifications/read/",
        notify_views.notifications_read_all,
        name="agent-notifications-read-all",
    ),
    path(
        "me/notifications/preferences/",
        notify_views.preferences,
        name="agent-notification-preferences",
    ),
    path("settings/", include("omnichannel.settings_urls")),
    path("api/v1/", api.urls),
    path("webhooks/", include("inbox.webhook_urls")),
    path("m/", include("inbox.media_urls")),
    path("m/t/", include("campaigns.media_urls")),
    path("admin/", admin.site.urls),
    path("inbox/", include("inbox.urls")),
    path("contacts/", include("contacts.urls")),
    # Its own module, listed first so no pattern of "campaigns/" can shadow it.
    path("campaigns/templates/", include("campaigns.template_urls")),
    path("campaigns/", include("campaigns.urls")),
    path("notifications/", include("notifications.urls")),
    path("unsubscribe/", include("notifications.unsubscribe_urls")),
    path("calendar/feeds/", include("calendar_app.feed_urls")),
    path("calendar/google/", include("calendar_app.google.urls")),
    path("calendar/book/", include("calendar_app.booking_urls")),
    path("calendar/", include("calendar_app.urls")),
    path("<slug:section>/", views.section, name="section"),
]

if settings.DEBUG or settings.BENCH_ENDPOINTS:
    urlpatterns.insert(0, path("__bench__/", include("inbox.bench_urls")))

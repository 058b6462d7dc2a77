"""The ICS feeds, under /calendar/feeds/ (mounted in omnichannel/urls.py; the URL's secret is
the credential, so no login)."""

from django.urls import path

from calendar_app import feeds

urlpatterns = [path("<str:token>.ics", feeds.resource_feed, name="calendar-feed")]

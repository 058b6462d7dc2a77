"""The benchmark endpoint under /__bench__/ (mounted in omnichannel/urls.py only with DEBUG or
BENCH_ENDPOINTS)."""

from django.urls import path

from inbox.bench_views import bench_noop

urlpatterns = [path("noop", bench_noop, name="bench-noop")]

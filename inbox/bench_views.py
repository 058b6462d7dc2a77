"""The ceiling for bench/webhook_ingest.py: an endpoint that does nothing but answer 204.

Mounted only for benchmarks (DEBUG or BENCH_ENDPOINTS=true) at ``__bench__/noop``; it goes
through the same middleware stack as the webhooks, so the difference is our webhook's cost.
"""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bench_noop(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)

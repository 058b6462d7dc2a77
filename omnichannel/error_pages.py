"""Error answers people see rendered as pages in the site's layout.

Django renders 400/403/404/500 through ``handler*`` views but has no handler for 405: a view
refusing a method (``require_POST`` and friends) answers an empty ``HttpResponseNotAllowed``,
which a browser shows as a blank page. Machines keep their own answers: the API (JSON, from
django-ninja) and webhooks (plain) are left alone, as is a request that does not take HTML.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

# Paths called by programs, not read by people.
MACHINE_PREFIXES = ("/api/", "/webhooks/")


class MethodNotAllowedPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not _wants_a_page(request, response):
            return response
        page = render(request, "405.html", status=405)
        page["Allow"] = response["Allow"]
        return page


def _wants_a_page(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        isinstance(response, HttpResponseNotAllowed)
        and not response.content
        and not request.path.startswith(MACHINE_PREFIXES)
        and request.accepts("text/html")
    )

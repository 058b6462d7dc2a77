"""htmx requests as the views see them."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


def wants_piece(request: HttpRequest) -> bool:
    """An htmx swap: the view answers with the piece the swap targets. A history restore (htmx
    reloading a page it no longer has in its cache) needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


class VaryOnHtmxMiddleware:
    """Every answer varies on ``HX-Request``: a page's URL answers a piece to htmx and the
    whole page to the browser. Without the header the browser's cache kept the piece under the
    page's URL (htmx pushes it to the history), and Back from another page showed the bare
    piece: no stylesheet, no scripts, a request for /favicon.ico that fails."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response

"""htmx requests as the views see them."""

from django.http import HttpRequest


def wants_piece(request: HttpRequest) -> bool:
    """An htmx swap: the view answers with the piece the swap targets. A history restore (htmx
    reloading a page it no longer has in its cache) needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request

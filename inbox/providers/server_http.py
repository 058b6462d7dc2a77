"""One HTTP request to a server a tenant runs for an inbox (a BlueBubbles Mac, an Evolution
instance), with transport failures told apart the way a send needs: unreachable and slow
checks are retried, a send the server may have taken is not."""

import httpx

from inbox.providers.base import ProviderError
from omnichannel.outbound import UnsafeURL, http_client


def server_request(
    method: str,
    url: str,
    *,
    server: str,
    url_label: str,
    timeout: float,
    sends: bool,
    unknown_outcome: str,
    **kwargs,
) -> httpx.Response:
    """The response to ``method url``; ``ProviderError`` when none came. ``server`` names the
    server in errors ("The BlueBubbles server"), ``url_label`` its configured URL; a timeout
    of a request that ``sends`` is permanent, with ``unknown_outcome`` as its message."""
    try:
        with http_client(timeout=timeout) as http:
            return http.request(method, url, **kwargs)
    except UnsafeURL as exc:
        raise ProviderError(
            f"This inbox's {url_label} is not allowed: {exc}", code="unsafe_url", permanent=True
        ) from exc
    except httpx.TimeoutException as exc:
        if isinstance(exc, httpx.ConnectTimeout):
            raise _unreachable(server, exc) from exc
        if sends:
            raise ProviderError(unknown_outcome, code="timeout", permanent=True) from exc
        raise ProviderError(
            f"{server} did not answer in time.", code="timeout", permanent=False
        ) from exc
    except httpx.HTTPError as exc:
        raise _unreachable(server, exc) from exc


def _unreachable(server: str, exc: Exception) -> ProviderError:
    return ProviderError(
        f"{server} could not be reached ({type(exc).__name__}).", code="network", permanent=False
    )

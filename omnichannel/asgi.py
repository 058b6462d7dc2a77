import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from omnichannel.request_limits import RequestLimitMiddleware  # noqa: E402
from omnichannel.routing import websocket_application  # noqa: E402

if "daphne.server" in sys.modules:
    # Served by daphne (it imports itself before the application): it hands requests over
    # before their bodies are in, so the limits apply while they arrive. Other servers stream
    # by themselves, and importing Twisted would cost each of their processes half a second.
    from omnichannel import daphne_stream

    daphne_stream.install()

application = ProtocolTypeRouter(
    {
        "http": RequestLimitMiddleware(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(websocket_application),
    }
)

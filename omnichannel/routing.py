from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import path

from omnichannel.consumers import EventsConsumer

websocket_urlpatterns = [path("ws/", EventsConsumer.as_asgi())]

websocket_application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))

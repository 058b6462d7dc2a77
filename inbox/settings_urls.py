"""The inbox's settings pages other than Settings → Channels (``inbox.channel_urls``); added to
the settings URLconf (names live in its namespace)."""

urlpatterns: list = []

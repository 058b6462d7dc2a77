from django.apps import AppConfig


class OmnichannelConfig(AppConfig):
    name = "omnichannel"
    verbose_name = "Centro platform"

    def ready(self) -> None:
        from omnichannel import permissions, receivers  # noqa: F401  (connects audit receivers)

        permissions.autodiscover()

from django.apps import AppConfig


class OmnichannelConfig(AppConfig):
    name = "omnichannel"
    verbose_name = "Centro platform"

    def ready(self) -> None:
        from omnichannel import checks, permissions, receivers  # noqa: F401  (registers them)

        permissions.autodiscover()

from django.apps import AppConfig


class OmnichannelConfig(AppConfig):
    name = "omnichannel"
    verbose_name = "Centro platform"

    def ready(self) -> None:
        from omnichannel import (  # noqa: F401  (registers them: checks, the bell's renderer…)
            agent_notification_views,
            checks,
            permissions,
            receivers,
        )

        permissions.autodiscover()

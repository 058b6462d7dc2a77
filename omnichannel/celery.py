import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")

app = Celery("centro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect(weak=False, dispatch_uid="centro.keep_django_logging")
def _keep_django_logging(**kwargs) -> None:
    """Logging stays as settings.LOGGING configured it (JSON, redacted) when Django set up.

    With no receiver for this signal Celery configures logging itself: it resets the root
    level to ``--loglevel`` and gives ``celery.task`` loggers a plain-text handler that does not
    propagate, so task logs would skip the redacting filter.
    """


def _install_heartbeat() -> None:
    from omnichannel.heartbeat import HeartbeatStep

    app.steps["worker"].add(HeartbeatStep)


_install_heartbeat()

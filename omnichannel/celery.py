import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnichannel.settings")

app = Celery("centro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _install_heartbeat() -> None:
    from omnichannel.heartbeat import HeartbeatStep

    app.steps["worker"].add(HeartbeatStep)


_install_heartbeat()

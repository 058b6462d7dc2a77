"""Celery workers record a heartbeat in Redis so that /readyz can tell a worker is alive."""

import logging
import socket
import time

from celery import bootsteps
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "worker-heartbeat"


def record_heartbeat(hostname: str) -> None:
    cache.set(
        HEARTBEAT_KEY,
        {"at": time.time(), "hostname": hostname},
        timeout=settings.WORKER_HEARTBEAT_MAX_AGE * 2,
    )


def last_heartbeat() -> dict | None:
    return cache.get(HEARTBEAT_KEY)


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes the heartbeat from the worker's own timer, independently of beat and queues."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker) -> None:
        hostname = getattr(worker, "hostname", None) or socket.gethostname()

        def beat() -> None:
            try:
                record_heartbeat(hostname)
            except Exception:  # Redis briefly away: /readyz will say so; keep the worker up.
                logger.warning("Could not record the worker heartbeat", exc_info=True)

        beat()
        self.tref = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, beat)

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

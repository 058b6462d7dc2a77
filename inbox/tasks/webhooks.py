"""Celery tasks that process journaled webhooks and fetch inbound media."""

__all__: list[str] = []

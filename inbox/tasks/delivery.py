"""Celery tasks that deliver outbound messages (see inbox.actions.send)."""

__all__: list[str] = []

"""Two-way Google Calendar sync (see ``setup`` for how it plugs into the calendar)."""


def setup() -> None:
    """Called from ``CalendarAppConfig.ready``: the calendar's hooks (busy time for the slot
    search, appointment changes to write to Google), the journal's source for push
    notifications, and the Celery tasks."""
    from django.core import checks

    from calendar_app import hooks
    from calendar_app.google import push, sync, tasks
    from calendar_app.google.checks import check_google_settings
    from omnichannel import webhooks

    hooks.register_busy_source(sync.busy_times)
    hooks.register_appointment_listener(tasks.on_appointment_changed)
    webhooks.register_source(push.handlers_for)
    checks.register(check_google_settings)

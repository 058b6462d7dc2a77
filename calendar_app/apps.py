from django.apps import AppConfig


class CalendarAppConfig(AppConfig):
    name = "calendar_app"
    verbose_name = "Calendar"

    def ready(self) -> None:
        from calendar_app.contact_data import erase_calendar_data, export_calendar_data
        from contacts import hooks

        # Contacts knows nothing of the calendar: GDPR erasure and export ask through hooks.
        hooks.register_erase(erase_calendar_data)
        hooks.register_export(export_calendar_data)

        from calendar_app import google

        google.setup()

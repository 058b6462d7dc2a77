from django.apps import AppConfig


class CalendarAppConfig(AppConfig):
    name = "calendar_app"
    verbose_name = "Calendar"

    def ready(self) -> None:
        from calendar_app import realtime  # noqa: F401  (registers the websocket renderers)
        from calendar_app.contact_data import erase_calendar_data, export_calendar_data
        from calendar_app.panels import contact_page_panel, conversation_panel
        from contacts import hooks
        from inbox import hooks as inbox_hooks

        # Contacts knows nothing of the calendar: GDPR erasure and export ask through hooks.
        hooks.register_erase(erase_calendar_data)
        hooks.register_export(export_calendar_data)
        # Nor does the inbox: the appointments and booking section joins both contact panels.
        hooks.register_contact_panel(contact_page_panel)
        inbox_hooks.register_conversation_panel(conversation_panel)

        # Nor does the settings area: calendar setup is a section of it.
        from omnichannel import settings_nav

        settings_nav.register(
            settings_nav.Section("calendar", "Calendar", "calendar.manage", position=55)
        )

        from calendar_app import google

        google.setup()

from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from contacts import hooks
        from inbox import realtime  # noqa: F401  (registers the websocket renderers)
        from inbox.actions.contact_data import erase_inbox_data, export_inbox_data

        # Contacts knows nothing of the inbox: GDPR erasure and export ask through hooks.
        hooks.register_erase(erase_inbox_data)
        hooks.register_export(export_inbox_data)

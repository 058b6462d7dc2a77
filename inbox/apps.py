from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from contacts import hooks
        from inbox import realtime  # noqa: F401  (registers the websocket renderers)
        from inbox.actions.contact_data import erase_inbox_data, export_inbox_data, merge_inbox_data
        from inbox.contact_page import conversations_panel, erase_preview
        from inbox.selectors import senders_for

        # Contacts knows nothing of the inbox: GDPR erasure and export, merges, the contact
        # page's conversations and the tenant's senders all ask through hooks.
        hooks.register_erase(erase_inbox_data)
        hooks.register_export(export_inbox_data)
        hooks.register_erase_preview(erase_preview)
        hooks.register_merge(merge_inbox_data)
        hooks.register_contact_panel(conversations_panel)
        hooks.register_senders(senders_for)

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Lifecycle notifications"

    def ready(self) -> None:
        from contacts import hooks
        from notifications.contact_data import erase_notification_data, export_notification_data

        # Contacts knows nothing of notifications: GDPR erasure and export ask through hooks.
        hooks.register_erase(erase_notification_data)
        hooks.register_export(export_notification_data)

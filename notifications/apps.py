from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Lifecycle notifications"

    def ready(self) -> None:
        from contacts import hooks
        from notifications.contact_data import erase_notification_data, export_notification_data
        from notifications.defaults import install_default_templates
        from notifications.demo import seed_demo_templates
        from notifications.shared_attributes import lifecycle_attributes
        from omnichannel import demo, settings_nav
        from omnichannel.hooks import register_tenant_created

        # Contacts knows nothing of notifications: GDPR erasure and export ask through hooks.
        hooks.register_erase(erase_notification_data)
        hooks.register_export(export_notification_data)
        # Connected systems (Chatwoot) show the next appointment, last booking, open quotes.
        hooks.register_shared_attributes(lifecycle_attributes)
        # The core knows nothing of notifications: a new tenant gets the lifecycle templates,
        # and the settings area the notifications section.
        register_tenant_created(install_default_templates)
        settings_nav.register(
            settings_nav.Section(
                "notification-rules", "Notifications", "notifications.view", position=90
            )
        )
        # At every run of the demo seeding, right after its inboxes.
        demo.register_step(20, seed_demo_templates, every_run=True)

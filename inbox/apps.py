from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from celery import signals

        from contacts import hooks
        from inbox import hooks as inbox_hooks
        from inbox import realtime  # noqa: F401  (registers the websocket renderers)
        from inbox.actions import notify
        from inbox.actions.contact_data import erase_inbox_data, export_inbox_data, merge_inbox_data
        from inbox.canned_settings_views import LABELS_PAGE_PART
        from inbox.contact_page import bridge_panel, conversations_panel, erase_preview
        from inbox.demo import seed_demo_conversations, seed_demo_inboxes, seed_demo_team
        from inbox.providers.chatwoot.attributes import schedule_attribute_push
        from inbox.selectors import senders_for
        from inbox.tasks.catch_up import catch_up_on_worker_start
        from inbox.webhooks.base import handlers_for
        from omnichannel import demo, settings_nav, webhooks

        # Contacts knows nothing of the inbox: GDPR erasure and export, merges, the contact
        # page's conversations and the tenant's senders all ask through hooks.
        hooks.register_erase(erase_inbox_data)
        hooks.register_export(export_inbox_data)
        hooks.register_erase_preview(erase_preview)
        hooks.register_merge(merge_inbox_data)
        hooks.register_contact_panel(conversations_panel)
        hooks.register_contact_panel(bridge_panel)
        hooks.register_senders(senders_for)
        # A tenant connected to Chatwoot sees Centro's attributes on its Chatwoot contacts.
        hooks.register_shared_attributes_changed(schedule_attribute_push)
        # The core's settings area knows nothing of the inbox: its sections and the canned
        # responses on the labels page are registered.
        settings_nav.register(
            settings_nav.Section("macros", "Macros", "macros.manage", position=45),
            settings_nav.Section("teams", "Teams & assignment", "teams.manage", position=50),
            settings_nav.Section("channels", "Channels", "inboxes.view", position=60),
        )
        settings_nav.register_page_part("labels", LABELS_PAGE_PART)
        # The journal (in the core) processes the providers' webhooks with their handlers.
        webhooks.register_source(handlers_for)
        # The core's notification centre: the inbox's kinds; a contact's reply notifies the
        # conversation's assignee (sending and assigning notify from their actions).
        notify.register_kinds()
        inbox_hooks.register_message_received(notify.notify_reply)
        # Every worker's start catches up with servers that may have lost webhooks meanwhile.
        signals.worker_ready.connect(
            catch_up_on_worker_start, weak=False, dispatch_uid="inbox.catch_up_on_worker_start"
        )
        # The demo: inboxes first (at every run, the others use them), team, conversations.
        demo.register_step(10, seed_demo_inboxes, every_run=True)
        demo.register_step(30, seed_demo_team)
        demo.register_step(50, seed_demo_conversations)

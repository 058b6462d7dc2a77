from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns.approved_templates import TEMPLATES
        from campaigns.contact_data import erase_campaign_data, export_campaign_data
        from campaigns.demo import seed_demo_campaign
        from campaigns.replies import attribute_reply
        from contacts import hooks as contact_hooks
        from inbox import hooks as inbox_hooks
        from inbox import template_sources
        from omnichannel import demo

        # The inbox knows nothing of campaigns; replies are attributed as they are stored.
        inbox_hooks.register_message_received(attribute_reply)
        # The composer offers approved WhatsApp templates where only a template may be sent.
        template_sources.register(TEMPLATES)
        # Contacts knows nothing of campaigns: GDPR erasure and export ask through hooks.
        contact_hooks.register_erase(erase_campaign_data)
        contact_hooks.register_export(export_campaign_data)
        # The demo's campaign goes last: it sends through the demo inbox to the demo contacts.
        demo.register_step(60, seed_demo_campaign)

from django.apps import AppConfig
from django.db.models.signals import post_save


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns.contact_data import erase_campaign_data, export_campaign_data
        from campaigns.demo import seed_demo_campaign
        from campaigns.replies import on_message_saved
        from contacts import hooks
        from inbox.models import Message
        from omnichannel import demo

        # The inbox knows nothing of campaigns; replies are attributed as they are stored.
        post_save.connect(on_message_saved, sender=Message, dispatch_uid="campaigns.replies")
        # Contacts knows nothing of campaigns: GDPR erasure and export ask through hooks.
        hooks.register_erase(erase_campaign_data)
        hooks.register_export(export_campaign_data)
        # The demo's campaign goes last: it sends through the demo inbox to the demo contacts.
        demo.register_step(60, seed_demo_campaign)

"""The inbox templates' presentation helpers (``inbox_ui``)."""

from inbox.models import Message
from inbox.templatetags.inbox_ui import automated_label


def test_an_automated_send_is_labelled_by_what_sent_it():
    def label(**metadata) -> str:
        return automated_label(Message(sender_type=Message.SenderType.SYSTEM, metadata=metadata))

    assert label(campaign_id=3, campaign_name="Winter offers") == "Campaign · Winter offers"
    assert label(campaign_id=3) == "Campaign"  # sent before names were kept, or erased
    assert label(notification_id=7, notification_rule_id=2) == "Notification"
    assert label() == "Automated"

"""The campaign admin: pages load with bounded queries, counters are read-only, and the
lifecycle's actions work from the changelist."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from campaigns.lifecycle import do_launch_campaign
from campaigns.models import Campaign, CampaignRecipient


@pytest.fixture
def staff_client(db):
    user = get_user_model().objects.create_superuser("root", "root@centro.test", "x" * 20)
    client = Client()
    client.force_login(user)
    return client


def url(model, view: str, *args) -> str:
    return reverse(f"admin:campaigns_{model._meta.model_name}_{view}", args=args)


def test_campaign_pages_load_and_the_counters_cannot_be_edited(
    staff_client, audience, make_campaign, django_assert_max_num_queries
):
    for n in range(3):
        do_launch_campaign(
            make_campaign(lists=[audience(2, name=f"L{n}", start=10 * n)], name=f"C{n}")
        )
    campaign = Campaign.objects.first()
    recipient = CampaignRecipient.objects.first()
    with django_assert_max_num_queries(12):
        assert staff_client.get(url(Campaign, "changelist")).status_code == 200
    with django_assert_max_num_queries(12):
        assert staff_client.get(url(CampaignRecipient, "changelist")).status_code == 200
    page = staff_client.get(url(Campaign, "change", campaign.pk)).content.decode()
    assert 'name="sent"' not in page and 'name="status"' not in page
    assert staff_client.get(url(CampaignRecipient, "change", recipient.pk)).status_code == 200
    assert staff_client.get(url(Campaign, "add")).status_code == 403


def test_the_pause_action_pauses_through_the_lifecycle(staff_client, audience, make_campaign):
    campaign = do_launch_campaign(make_campaign(lists=[audience(2)]))
    response = staff_client.post(
        url(Campaign, "changelist"), {"action": "pause", "_selected_action": [campaign.pk]}
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED

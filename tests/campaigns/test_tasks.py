"""The Celery side: launch enqueues the campaign's tasks on the real Redis broker and a real
Celery worker (celery's in-process test worker, built from the app's blueprint) sends them;
warm shutdown tells running campaign tasks to give their leases back."""

import time

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.db import connection

from campaigns import engine
from campaigns.lifecycle import do_launch_campaign
from campaigns.models import Campaign
from omnichannel.celery import app


@pytest.mark.usefixtures("empty_celery_broker")
@pytest.mark.django_db(transaction=True)
def test_launch_enqueues_tasks_that_a_worker_runs_to_completion(
    tenant, fake_twilio, audience, make_campaign, settings
):
    settings.CAMPAIGN_WORKERS = 2
    campaign = make_campaign(lists=[audience(40)])
    # Celery's Django fixup closes the connections it finds when the worker starts.
    connection.close()
    with start_worker(app, perform_ping_check=False, shutdown_timeout=15, concurrency=2):
        do_launch_campaign(campaign)  # commits: the tasks go to the broker
        deadline = time.monotonic() + 60
        while Campaign.objects.get(pk=campaign.pk).status != Campaign.Status.COMPLETED:
            assert time.monotonic() < deadline, "the worker did not finish the campaign"
            time.sleep(0.1)
    campaign.refresh_from_db()
    assert campaign.sent == 40
    numbers = [r.params["To"] for r in fake_twilio.sent]
    assert len(numbers) == len(set(numbers)) == 40


def test_warm_shutdown_asks_campaign_tasks_to_stop():
    engine.stop_requested.clear()
    try:
        signals.worker_shutting_down.send(sender="test@host", sig="SIGTERM", how="Warm", exitcode=0)
        assert engine.stop_requested.is_set()
    finally:
        engine.stop_requested.clear()

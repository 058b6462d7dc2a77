"""Celery tasks of the campaign engine (the logic is in campaigns.engine / lifecycle)."""

from celery import shared_task, signals

from campaigns import engine, lifecycle

__all__ = ["campaign_tick_task", "run_campaign_task"]


@shared_task(acks_late=True)
def run_campaign_task(campaign_id: int) -> str:
    """Send for one campaign for up to CAMPAIGN_WORK_SECONDS, then hand over to a fresh task
    (so a long campaign never holds one task for hours and a deploy can stop it cleanly)."""
    reason = engine.work(campaign_id)
    if reason == "deadline":
        run_campaign_task.delay(campaign_id)
    return reason


@shared_task
def campaign_tick_task() -> dict:
    """Beat: expired leases, due schedules, breakers that cooled down, orphaned campaigns."""
    return lifecycle.tick()


@signals.worker_shutting_down.connect(weak=False, dispatch_uid="centro.campaigns.stop")
def _stop_sending(**kwargs) -> None:
    """Warm shutdown: running campaign tasks give back their unstarted leases and return."""
    engine.stop_requested.set()

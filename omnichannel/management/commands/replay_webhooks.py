"""manage.py replay_webhooks [--id N ...] [--state S] [--since ISO] [--tenant ID]: prints JSON.

Processes journaled webhook requests again from their stored bodies (they were verified when
they arrived). Without ``--id`` it replays failed and pending events; handlers are idempotent,
so a replay of an already processed event changes nothing. An event whose replay breaks is
counted as failed (with the reason in its journal row) and the others are still replayed.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import get_current_timezone, is_naive, make_aware

from omnichannel.models import WebhookEvent
from omnichannel.webhooks import journal

DEFAULT_STATES = (WebhookEvent.State.FAILED, WebhookEvent.State.PENDING)


def _since(value: str):
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = parse_datetime(day.isoformat() + "T00:00:00")
    if moment is None:
        raise CommandError(f"--since “{value}” is not an ISO date or date-time.")
    return make_aware(moment, get_current_timezone()) if is_naive(moment) else moment


class Command(BaseCommand):
    help = (
        "Re-process journaled webhook requests (default: failed and pending ones) and print a "
        "JSON summary."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--id", type=int, action="append", default=[], dest="ids", help="An event id."
        )
        parser.add_argument(
            "--state",
            action="append",
            choices=[state.value for state in WebhookEvent.State],
            help="Only events in this state (repeatable). Default: failed and pending.",
        )
        parser.add_argument("--since", help="Only events received at or after this ISO time.")
        parser.add_argument("--tenant", type=int, help="Only this tenant's events.")

    def handle(self, *args, **options) -> None:
        events = WebhookEvent.objects.order_by("received_at", "id")
        if options["ids"]:
            events = events.filter(pk__in=options["ids"])
            missing = set(options["ids"]) - set(events.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No webhook events with ids {sorted(missing)}.")
        states = options["state"] or ([] if options["ids"] else list(DEFAULT_STATES))
        if states:
            events = events.filter(state__in=states)
        if options["since"]:
            events = events.filter(received_at__gte=_since(options["since"]))
        if options["tenant"] is not None:
            events = events.filter(tenant_id=options["tenant"])

        summary = {"replayed": 0, "processed": 0, "invalid": 0, "failed": 0, "skipped": 0}
        for pk in list(events.values_list("pk", flat=True)):
            outcome = journal.replay_isolated(WebhookEvent(pk=pk))
            if outcome is None:  # another replay is processing it right now
                summary["skipped"] += 1
                continue
            summary["replayed"] += 1
            key = outcome.state if outcome.state in summary else "failed"
            summary[key] += 1
        self.stdout.write(json.dumps(summary))

"""The demo tenant's sample data, seeded by ``manage.py seed_demo`` in steps the apps register.

The core imports no product app: each app registers, in its ``AppConfig.ready()``, the steps
that seed its part (its code lives in ``<app>/demo.py``). The command creates the tenant and its
team, then runs the steps by position: those marked ``every_run`` at every run (they refresh
what must follow the environment, idempotently), the others only when the tenant is new.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omnichannel.models import Tenant


@dataclass
class DemoSeed:
    tenant: Tenant
    # What a step leaves for the steps after it (the inbox: its demo inboxes by kind).
    shared: dict[str, Any] = field(default_factory=dict)
    # Added, in this order, to the JSON line the command prints.
    output: dict[str, Any] = field(default_factory=dict)


DemoStep = Callable[[DemoSeed], None]


@dataclass(frozen=True)
class _Step:
    position: int
    run: DemoStep
    every_run: bool


_steps: dict[DemoStep, _Step] = {}


def register_step(position: int, step: DemoStep, *, every_run: bool = False) -> None:
    """Run ``step`` when the demo is seeded, after the steps with a lower ``position``; only
    for a new demo tenant unless ``every_run``. Registering a step again changes nothing."""
    _steps.setdefault(step, _Step(position, step, every_run))


def steps(*, created: bool) -> list[DemoStep]:
    """The steps to run, in order: all of them for a new tenant, else the ``every_run`` ones."""
    chosen = [s for s in _steps.values() if created or s.every_run]
    return [s.run for s in sorted(chosen, key=lambda s: s.position)]

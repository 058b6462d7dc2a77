"""The notifications' part of the demo tenant (``manage.py seed_demo``, step registered in
``NotificationsConfig.ready``)."""

from notifications.defaults import install_default_templates
from omnichannel.demo import DemoSeed


def seed_demo_templates(seed: DemoSeed) -> None:
    """At every run: an older demo tenant gets the lifecycle templates shipped since
    (idempotent, edits are kept)."""
    install_default_templates(seed.tenant)

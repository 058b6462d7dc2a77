"""Celery discovers ``inbox.tasks``; the tasks live in one module per concern."""

from inbox.tasks.bridge import *  # noqa: F403
from inbox.tasks.chatwoot import *  # noqa: F403
from inbox.tasks.delivery import *  # noqa: F403
from inbox.tasks.provider_signals import *  # noqa: F403
from inbox.tasks.webhooks import *  # noqa: F403

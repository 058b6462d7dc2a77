"""Webhooks the platform receives, whoever handles them: the journal (``journal``) and the
sources apps register.

A source is a provider key (``twilio``, ``stripe``…) whose requests some app handles. The
journal stores and replays every source's requests alike; to process one it asks the app that
registered the source for its event handlers, so the core knows no app.
"""

from collections.abc import Callable, Mapping

# handler(inbox or None, request) -> a note for the journal.
Handler = Callable[..., str]
# resolver(source) -> that source's event type -> handler table, or None when not its own.
Resolver = Callable[[str], Mapping[str, Handler] | None]

_resolvers: list[Resolver] = []


class MalformedWebhook(ValueError):
    """A verified request whose content we cannot use; the message says what is wrong."""


def register_source(resolver: Resolver) -> Resolver:
    """Let the journal find handlers through ``resolver`` (once, however often this runs)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)
    return resolver


def handlers_for(source: str) -> Mapping[str, Handler]:
    """The event type -> handler table of ``source`` (empty when no app handles it)."""
    for resolver in _resolvers:
        handlers = resolver(source)
        if handlers is not None:
            return handlers
    return {}

"""The test Celery broker (the test Redis): what waits in it, and emptying it.

Tests that commit (transactional tests, API calls) queue real Celery tasks that no worker runs
in that test, and a worker a test kills with SIGKILL leaves the message it held in kombu's
``unacked`` hash, which any worker of the same broker gets back after the visibility timeout,
in this session or a later one. A test that starts a real worker empties both first, so its
worker runs only that test's tasks.
"""

from omnichannel.celery import app


def backlog() -> dict[str, int]:
    """Messages waiting in the app's queues, and messages taken but never acknowledged."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        queued = sum(channel.queue_declare(queue=name).message_count for name in app.amqp.queues)
        return {"queued": queued, "unacked": channel.client.hlen(channel.unacked_key)}


def purge() -> None:
    with app.connection_for_write() as conn:
        app.control.purge(connection=conn)
        channel = conn.default_channel
        channel.client.delete(channel.unacked_key, channel.unacked_index_key)


def queued_tasks() -> list[str]:
    """The names of the tasks waiting in the app's queues, oldest first."""
    import json

    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        names = []
        for queue in app.amqp.queues:
            # kombu's Redis transport pushes on the left: the oldest is last.
            for raw in reversed(client.lrange(queue, 0, -1)):
                names.append(json.loads(raw)["headers"]["task"])
        return names

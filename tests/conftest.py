from collections import Counter
from pathlib import Path

import pytest
from django.test import Client

from omnichannel.actions import do_create_api_token, do_create_tenant, get_or_create_user
from omnichannel.models import Membership, Role

PASSWORD = "correct horse battery staple 42"

# Providers that exist only in the tests bring their own fixtures (tests/providers/<key>/).
pytest_plugins = sorted(
    f"tests.providers.{package.name}.fixtures"
    for package in (Path(__file__).resolve().parent / "providers").iterdir()
    if (package / "fixtures.py").exists()
)


# --- test databases: copies of a template migrated once per run (tests/databases.py) -------------


@pytest.fixture(scope="session")
def django_db_createdb() -> bool:
    """pytest-django never re-creates a database itself: --create-db is handled below."""
    return False


@pytest.fixture(scope="session")
def django_db_keepdb() -> bool:
    """It keeps the one made below (and migrates it: nothing to do on a fresh copy)."""
    return True


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, request) -> None:
    from tests.databases import prepare_test_database

    prepare_test_database(create=request.config.getvalue("create_db"))


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (rate-limit counters, heartbeats), and only the
    test cache's own keys are removed: never FLUSHDB on a Redis that may be shared."""
    from django.conf import settings
    from django.core.cache import cache

    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _celery_may_join_results():
    """Celery marks joining a task result as refused process-wide while ``apply()`` runs a task
    (and in a worker's pool): tasks applied in two threads at once can leave the mark set, and
    a later ``.apply().get()`` in this process would be refused. Each test starts without it."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture
def eager_tasks():
    """Tasks enqueued with .delay() run at once, in this process (still through Celery):
    nothing is left in the shared broker for other tests' workers."""
    from omnichannel.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def empty_celery_broker():
    """For every test that starts a real Celery worker on the test broker: tasks other tests
    left queued, or a killed worker left unacknowledged, must not run in this test's worker
    (see tests/celery_broker.py)."""
    from tests.celery_broker import purge

    purge()


@pytest.fixture
def tenant(db):
    tenant, _ = do_create_tenant(
        name="Acme Travel", owner_email="owner@acme.test", owner_password=PASSWORD
    )
    return tenant


@pytest.fixture
def other_tenant(db):
    tenant, _ = do_create_tenant(
        name="Globex", owner_email="owner@globex.test", owner_password=PASSWORD
    )
    return tenant


@pytest.fixture
def owner(tenant):
    return Membership.objects.get(tenant=tenant, role__builtin="owner").user


@pytest.fixture
def make_member(db):
    """A user with ``role`` (a built-in name or a Role) in ``tenant``."""

    def make(tenant, role="agent", email=None):
        if isinstance(role, str):
            role = Role.objects.get(tenant=tenant, builtin=role)
        email = email or f"{role.name.lower().replace(' ', '-')}-{tenant.slug}@example.test"
        user, _ = get_or_create_user(email, password=PASSWORD)
        Membership.objects.create(tenant=tenant, user=user, role=role)
        return user

    return make


@pytest.fixture
def login(db):
    """A test client signed in as ``user`` (through the real allauth login form)."""

    def make(user) -> Client:
        client = Client()
        response = client.post(
            "/accounts/login/", {"login": user.email, "password": PASSWORD}, follow=False
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        return client

    return make


@pytest.fixture
def api_token(tenant):
    """The raw value of a full-permission (owner role) token for ``tenant``."""
    _, raw = do_create_api_token(
        tenant, name="Test", role=Role.objects.get(tenant=tenant, builtin="owner")
    )
    return raw


TESTS_DIR = Path(__file__).resolve().parent
# Every test of these packages reads the clock (schedules, quiet hours, leases, reminders).
CLOCK_PACKAGES = frozenset({"campaigns", "notifications"})


@pytest.hookimpl(tryfirst=True)  # before `-m clock` selects
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.path.relative_to(TESTS_DIR).parts[0] in CLOCK_PACKAGES:
            item.add_marker(pytest.mark.clock)
        # schemathesis makes one item per API operation, but under pytest 9 they all get the
        # test's bare node id; pytest-xdist would run one of them. Each gets its operation.
        label = getattr(item, "operation_label", None)
        if label and item.id.params is None:
            item._id = item.id.with_params(label)
    twice = [nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1]
    if twice:  # pytest-xdist runs one test per node id: the others would silently not run
        raise pytest.UsageError(f"Tests collected twice under the same id: {twice}")


@pytest.fixture
def fake_dns(monkeypatch):
    """DNS answers for the outbound guard (``omnichannel.outbound.resolver``, the DNS edge):
    a dict ``{host name: [addresses]}`` the test fills; other names do not resolve. Nothing is
    looked up for real, and nothing connects to the addresses it answers."""
    import socket

    from omnichannel import outbound

    answers: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        try:
            return list(answers[host.lower().rstrip(".")])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(outbound, "resolver", resolve)
    return answers


@pytest.fixture
def private_channel_prefix(settings):
    """The real Redis channel layer from settings, under a prefix no other test (or run)
    shares."""
    import json
    import uuid

    from channels.layers import get_channel_layer
    from channels_redis.core import RedisChannelLayer

    layers = json.loads(json.dumps(settings.CHANNEL_LAYERS))
    layers["default"]["CONFIG"]["prefix"] += f"-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layers
    assert isinstance(get_channel_layer(), RedisChannelLayer)


@pytest.fixture
def signed_in():
    """A test client with a real session for ``user``, optionally choosing ``tenant``."""
    from django.test import Client

    from omnichannel.tenancy import SESSION_KEY

    def make(user, tenant=None):
        client = Client()
        client.force_login(user)
        if tenant is not None:
            session = client.session
            session[SESSION_KEY] = tenant.pk
            session.save()
        return client

    return make


@pytest.fixture
def group_events():
    """``listen(group)`` subscribes a plain channel to ``group`` on the real channel layer and
    returns a function giving what was published there since (each call may run on its own
    event loop, so each gets its own layer instance)."""
    import asyncio
    import uuid

    from asgiref.sync import async_to_sync
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

    def layer():
        return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)

    joined: list[tuple[str, str]] = []

    def listen(group: str):
        channel = f"test.events.{uuid.uuid4().hex}"
        async_to_sync(layer().group_add)(group, channel)
        joined.append((group, channel))

        async def drain() -> list[dict]:
            receiver = layer()
            found = []
            while True:
                try:
                    found.append(await asyncio.wait_for(receiver.receive(channel), timeout=0.5))
                except TimeoutError:
                    return found

        return async_to_sync(drain)

    yield listen
    for group, channel in joined:
        async_to_sync(layer().group_discard)(group, channel)

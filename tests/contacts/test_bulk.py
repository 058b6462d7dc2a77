"""Bulk operations (contacts.bulk, contacts.tasks.bulk): frozen selections, atomic batches
with checkpoints, resuming after a worker dies, progress events, every action, tenancy."""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from contacts import bulk
from contacts.bulk import (
    BUSY,
    FINISHED,
    MORE,
    InvalidBulkOperation,
    bulk_operations_to_resume,
    do_cancel_bulk_operation,
    do_start_bulk_operation,
    is_worked_on,
    run_bulk_operation,
)
from contacts.models import BulkOperation, Contact, ContactLabel, JobStatus, ListMembership
from contacts.tasks.bulk import recover_bulk_operations_task, run_bulk_operation_task
from omnichannel.actions import ActionError
from omnichannel.celery import app as celery_app
from omnichannel.events import user_group
from omnichannel.models import AuditEvent
from tests.contacts.test_filters import define, make_contact, make_label, make_list
from tests.inbox.api_factories import make_conversation, make_inbox

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

BASE_DIR = Path(__file__).resolve().parents[2]
GOLD = {"attributes": [{"key": "plan", "op": "eq", "value": "gold"}]}


@contextmanager
def eager():
    """Tasks queued with .delay() run at once, in this process (still through Celery)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = before


@pytest.fixture
def eager_tasks():
    with eager():
        yield


@pytest.fixture
def plans(tenant):
    define(tenant, "plan", "choice", choices=["gold", "silver"])
    define(tenant, "tier", "number")
    return {
        name: make_contact(tenant, name, attributes={"plan": plan} if plan else {})
        for name, plan in (
            ("Ana", "gold"),
            ("Beto", "silver"),
            ("Carla", "gold"),
            ("Dario", None),
            ("Elena", "gold"),
            ("Fabio", "silver"),
            ("Gina", "gold"),
        )
    }


def attributes_by_name(tenant) -> dict[str, dict]:
    return dict(Contact.objects.for_tenant(tenant).values_list("name", "attributes"))


def reload(operation: BulkOperation) -> BulkOperation:
    return BulkOperation.objects.get(pk=operation.pk)


# --- On a filter --------------------------------------------------------------------------------


def test_it_sets_an_attribute_on_exactly_the_contacts_a_filter_matches(
    tenant, owner, plans, eager_tasks, django_capture_on_commit_callbacks
):
    before = attributes_by_name(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        operation = do_start_bulk_operation(
            tenant,
            action="set_attribute",
            params={"key": "tier", "value": "3"},
            filters=GOLD,
            acting_user=owner,
        )
    after = attributes_by_name(tenant)
    gold = {"Ana", "Carla", "Elena", "Gina"}
    for name in before:
        if name in gold:
            assert after[name] == {**before[name], "tier": 3}, name
        else:
            assert after[name] == before[name], name
    operation = reload(operation)
    assert operation.status == JobStatus.DONE
    assert (operation.total, operation.processed, operation.changed, operation.failed) == (
        4,
        4,
        4,
        0,
    )
    assert operation.filters == GOLD
    assert operation.contact_ids == sorted(plans[name].pk for name in gold)
    assert operation.started_at and operation.finished_at and operation.progressed_at


def test_the_selection_is_frozen_when_the_operation_starts(tenant, owner, plans):
    operation = do_start_bulk_operation(
        tenant, action="set_attribute", params={"key": "tier", "value": 1}, filters=GOLD
    )
    # After the start: one gold contact turns silver, a new gold contact arrives.
    Contact.objects.filter(pk=plans["Ana"].pk).update(attributes={"plan": "silver"})
    make_contact(tenant, "Zoe", attributes={"plan": "gold"})
    Contact.objects.filter(pk=plans["Carla"].pk).delete()

    assert run_bulk_operation(operation.pk, batch_size=2) == FINISHED

    after = attributes_by_name(tenant)
    assert after["Ana"] == {"plan": "silver", "tier": 1}  # was selected: still changed
    assert after["Zoe"] == {"plan": "gold"}  # arrived later: not part of it
    operation = reload(operation)
    assert (operation.total, operation.processed, operation.changed) == (4, 4, 3)
    assert bulk.unchanged_count(operation) == 1  # Carla, deleted meanwhile


# --- Batches, checkpoints, resuming -------------------------------------------------------------


def test_it_resumes_from_the_checkpoint_and_applies_each_contact_once(tenant, plans):
    vip = make_list(tenant, "VIP", plans["Beto"])
    operation = do_start_bulk_operation(
        tenant, action="add_to_list", params={"list_id": vip.pk}, filters={}
    )
    ids = sorted(contact.pk for contact in plans.values())

    # The worker stops after two batches (SLICE_BATCHES in production)…
    assert run_bulk_operation(operation.pk, batch_size=2, max_batches=2) == MORE
    stopped = reload(operation)
    assert stopped.status == JobStatus.RUNNING
    assert (stopped.processed, stopped.last_id) == (4, ids[3])
    members = set(
        ListMembership.objects.filter(contact_list=vip).values_list("contact_id", flat=True)
    )
    assert members == set(ids[:4])

    # …and a new run carries on from the checkpoint.
    assert run_bulk_operation(operation.pk, batch_size=2) == FINISHED
    done = reload(operation)
    assert done.status == JobStatus.DONE
    assert (done.total, done.processed, done.changed) == (7, 7, 6)  # Beto was a member already
    assert ListMembership.objects.filter(contact_list=vip).count() == 7
    # Running a finished operation again does nothing.
    assert run_bulk_operation(operation.pk, batch_size=2) == FINISHED
    assert reload(operation).processed == 7


def _fail_on_insert_for(contact_id: int) -> None:
    """A database trigger that rejects the membership of one contact: a real failure in the
    middle of a batch, after that batch's earlier statements ran."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION pg_temp.refuse_member() RETURNS trigger AS $$
            BEGIN
                IF NEW.contact_id = {int(contact_id)} THEN
                    RAISE EXCEPTION 'refused contact %', NEW.contact_id;
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_member BEFORE INSERT ON contacts_listmembership
                FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_member();
            """
        )


def _stop_failing() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_member ON contacts_listmembership")


def test_a_failing_batch_is_rolled_back_whole_with_its_checkpoint(tenant, plans):
    ids = sorted(contact.pk for contact in plans.values())
    source = make_list(tenant, "Source", *plans.values())
    target = make_list(tenant, "Target")
    operation = do_start_bulk_operation(
        tenant,
        action="move_to_list",
        params={"from_list_id": source.pk, "to_list_id": target.pk},
        filters={"lists": [source.pk]},
    )
    _fail_on_insert_for(ids[4])  # the second contact of the second batch

    with pytest.raises(DatabaseError, match="refused contact"):
        run_bulk_operation(operation.pk, batch_size=3)

    failed = reload(operation)
    assert (failed.processed, failed.changed, failed.last_id) == (3, 3, ids[2])
    assert failed.status == JobStatus.RUNNING
    # The batch's removals from the source list were undone with its insertions.
    in_source = set(
        ListMembership.objects.filter(contact_list=source).values_list("contact_id", flat=True)
    )
    in_target = set(
        ListMembership.objects.filter(contact_list=target).values_list("contact_id", flat=True)
    )
    assert in_source == set(ids[3:])
    assert in_target == set(ids[:3])
    assert not is_worked_on(operation.pk)  # the lock went with the failed run

    _stop_failing()
    assert run_bulk_operation(operation.pk, batch_size=3) == FINISHED
    done = reload(operation)
    assert (done.status, done.processed, done.changed) == (JobStatus.DONE, 7, 7)
    assert not ListMembership.objects.filter(contact_list=source).exists()
    assert ListMembership.objects.filter(contact_list=target).count() == 7


def test_the_task_retries_a_failing_batch_then_stops_the_operation_as_failed(
    tenant, plans, eager_tasks
):
    ids = sorted(contact.pk for contact in plans.values())
    vip = make_list(tenant, "VIP")
    operation = do_start_bulk_operation(
        tenant, action="add_to_list", params={"list_id": vip.pk}, ids=ids
    )
    _fail_on_insert_for(ids[0])

    assert run_bulk_operation_task.apply(args=[operation.pk]).get() == "failed"

    failed = reload(operation)
    assert failed.status == JobStatus.FAILED
    assert "kept failing" in failed.failure
    assert (failed.processed, failed.last_id) == (0, 0)
    assert not ListMembership.objects.exists()


def test_a_deleted_list_stops_the_operation_with_a_reason(tenant, plans):
    vip = make_list(tenant, "VIP")
    operation = do_start_bulk_operation(
        tenant, action="add_to_list", params={"list_id": vip.pk}, filters={}
    )
    assert run_bulk_operation(operation.pk, batch_size=2, max_batches=1) == MORE
    vip.delete()
    assert run_bulk_operation(operation.pk, batch_size=2) == FINISHED
    failed = reload(operation)
    assert failed.status == JobStatus.FAILED
    assert failed.failure == "The list was deleted while the operation ran."
    assert failed.processed == 2


def test_one_worker_at_a_time_runs_an_operation(tenant, plans):
    vip = make_list(tenant, "VIP")
    operation = do_start_bulk_operation(
        tenant, action="add_to_list", params={"list_id": vip.pk}, filters={}
    )
    with _held_elsewhere(operation.pk):
        assert is_worked_on(operation.pk)
        assert run_bulk_operation(operation.pk) == BUSY
        assert reload(operation).processed == 0
    assert run_bulk_operation(operation.pk) == FINISHED


class _held_elsewhere:
    """Another database session (another worker) holding the operation's lock."""

    def __init__(self, operation_id: int) -> None:
        self.key = bulk._lock_key(operation_id)

    def __enter__(self):
        settings = connection.settings_dict
        self.other = psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            password=settings["PASSWORD"],
            host=settings["HOST"],
            port=settings["PORT"],
            autocommit=True,
        )
        self.other.execute("SELECT pg_advisory_lock(%s, %s)", self.key)
        return self

    def __exit__(self, *exc_info):
        # Unlock first: a closed session's locks go a moment later, not when close() returns.
        self.other.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
        self.other.close()


def test_recovery_resumes_only_stuck_operations_nobody_holds(tenant, plans, eager_tasks):
    vip = make_list(tenant, "VIP")

    def start():
        return do_start_bulk_operation(
            tenant, action="add_to_list", params={"list_id": vip.pk}, ids=[plans["Ana"].pk]
        )

    stuck, held, fresh = start(), start(), start()
    long_ago = timezone.now() - timedelta(minutes=10)
    BulkOperation.objects.filter(pk__in=[stuck.pk, held.pk]).update(
        status=JobStatus.RUNNING, progressed_at=long_ago, created_at=long_ago
    )
    with _held_elsewhere(held.pk):
        assert bulk_operations_to_resume() == [stuck.pk]
        assert recover_bulk_operations_task.apply().get() == 1
    assert reload(stuck).status == JobStatus.DONE
    assert reload(held).status == JobStatus.RUNNING  # its worker is alive
    assert reload(fresh).status == JobStatus.PENDING  # its task is on its way


def test_recovery_is_scheduled_by_beat():
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE["recover-bulk-operations"]
    assert schedule["task"] == recover_bulk_operations_task.name
    assert schedule["schedule"] <= bulk.STALE_AFTER.total_seconds()


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _wait_for(probe, *, timeout: float = 30, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.01)
    raise AssertionError(f"Waited {timeout}s for {what}.")


@pytest.mark.slow
@pytest.mark.usefixtures("empty_celery_broker")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_operation_is_resumed_without_repeating_a_contact(tenant, owner):
    """The production worker (``celery -A omnichannel worker``) runs the operation and is
    killed with SIGKILL part-way; beat's recovery task finds the operation orphaned and a new
    run finishes it: every contact labelled once, the counters exact."""
    size = 24 * bulk.BATCH_SIZE
    Contact.objects.bulk_create(Contact(tenant=tenant, name=f"Guest {n}") for n in range(size))
    label = make_label(tenant, "Fair 2025")
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "omnichannel", "worker"),
            *("--pool", "solo", "--hostname", f"bulk-{uuid.uuid4().hex[:8]}@test"),
            *("--loglevel", "WARNING", "--without-mingle", "--without-gossip"),
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": _test_database_url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Queued on commit, picked up by the worker.
        operation = do_start_bulk_operation(
            tenant, action="label", params={"label_id": label.pk}, filters={}, acting_user=owner
        )
        _wait_for(
            lambda: reload(operation).processed >= 4 * bulk.BATCH_SIZE,
            timeout=60,
            what="the worker's first batches",
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            print(worker.communicate(timeout=10)[0])
    assert worker.returncode == -signal.SIGKILL

    # The database ends the dead worker's session: its lock and open batch go with it.
    _wait_for(lambda: not is_worked_on(operation.pk), what="the dead worker's lock to go")
    killed = reload(operation)
    assert killed.status == JobStatus.RUNNING
    assert 4 * bulk.BATCH_SIZE <= killed.processed < size
    assert killed.processed % bulk.BATCH_SIZE == 0
    labelled = ContactLabel.objects.filter(label=label).count()
    assert labelled == killed.processed == killed.changed  # no half batch, no lost checkpoint

    # Minutes later, beat's recovery task sees nobody on it and queues it again.
    BulkOperation.objects.filter(pk=operation.pk).update(
        progressed_at=timezone.now() - timedelta(minutes=10)
    )
    with eager():
        assert recover_bulk_operations_task.apply().get() == 1

    done = reload(operation)
    assert done.status == JobStatus.DONE
    assert (done.total, done.processed, done.changed, done.failed) == (size, size, size, 0)
    assert ContactLabel.objects.filter(label=label).count() == size


# --- Progress -----------------------------------------------------------------------------------


@pytest.fixture
def user_events(tenant, owner, group_events):
    """What is published to the owner's own group, read from the real channel layer."""
    return group_events(user_group(tenant.pk, owner.pk))


def test_progress_goes_to_the_starting_user_as_an_out_of_band_fragment(
    tenant, owner, plans, user_events, django_capture_on_commit_callbacks
):
    operation = do_start_bulk_operation(
        tenant,
        action="set_attribute",
        params={"key": "tier", "value": 2},
        filters=GOLD,
        acting_user=owner,
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_bulk_operation(operation.pk, batch_size=2)

    events = user_events()
    assert [e["event"] for e in events] == ["contacts.bulk_progress"] * 2
    assert [e["payload"]["processed"] for e in events] == [2, 4]
    assert events[-1]["payload"]["status"] == "done"
    assert events[-1]["payload"]["changed"] == 4
    html = events[-1]["html_by_zone"]["UTC"]  # the person follows the tenant's zone
    assert f'<div id="bulk-{operation.pk}-progress"' in html
    assert 'hx-swap-oob="true"' in html
    assert "4 changed" in html
    # While it runs, the pushed block offers Cancel through htmx (it carries no CSRF field;
    # htmx sends the page's token as a header).
    running = events[0]["html_by_zone"]["UTC"]
    assert f'hx-post="/contacts/bulk/{operation.pk}/cancel/"' in running
    assert "csrfmiddlewaretoken" not in running and "bulk-cancel" not in html


# --- The actions --------------------------------------------------------------------------------


def test_it_labels_and_removes_from_a_list(tenant, plans):
    vip = make_label(tenant, "VIP", plans["Ana"])
    gold_list = make_list(tenant, "Gold", plans["Ana"], plans["Beto"])
    ids = [plans["Ana"].pk, plans["Carla"].pk]
    labelling = do_start_bulk_operation(
        tenant, action="label", params={"label_id": vip.pk}, ids=ids
    )
    removing = do_start_bulk_operation(
        tenant, action="remove_from_list", params={"list_id": gold_list.pk}, ids=ids
    )
    run_bulk_operation(labelling.pk)
    run_bulk_operation(removing.pk)
    assert set(ContactLabel.objects.values_list("contact_id", flat=True)) == set(ids)
    assert reload(labelling).changed == 1
    assert list(ListMembership.objects.values_list("contact_id", flat=True)) == [plans["Beto"].pk]
    assert reload(removing).changed == 1


def test_a_contact_failing_validation_is_counted_not_fatal(tenant):
    define(tenant, "tier", "number")
    define(tenant, "region", "text", is_required=True)
    ok = make_contact(tenant, "Complete", attributes={"region": "North"})
    incomplete = make_contact(tenant, "Incomplete")
    already = make_contact(tenant, "Already", attributes={"region": "South", "tier": 5})
    operation = do_start_bulk_operation(
        tenant, action="set_attribute", params={"key": "tier", "value": 5}, filters={}
    )
    run_bulk_operation(operation.pk)
    done = reload(operation)
    assert done.status == JobStatus.DONE
    assert (done.processed, done.changed, done.failed) == (3, 1, 1)
    assert bulk.unchanged_count(done) == 1
    assert done.errors == [{"contact_id": incomplete.pk, "reason": "region: is required"}]
    ok.refresh_from_db()
    incomplete.refresh_from_db()
    already.refresh_from_db()
    assert ok.attributes == {"region": "North", "tier": 5}
    assert incomplete.attributes == {}


def test_delete_keeps_contacts_with_conversations_and_says_why(tenant, plans):
    inbox = make_inbox(tenant)
    make_conversation(inbox, plans["Ana"])
    gold_list = make_list(tenant, "Gold", plans["Carla"])
    operation = do_start_bulk_operation(tenant, action="delete", params={}, filters=GOLD)
    run_bulk_operation(operation.pk, batch_size=3)
    done = reload(operation)
    assert (done.processed, done.changed, done.failed) == (4, 3, 1)
    assert done.errors[0]["contact_id"] == plans["Ana"].pk
    assert "conversations" in done.errors[0]["reason"]
    left = set(Contact.objects.for_tenant(tenant).values_list("name", flat=True))
    assert left == {"Ana", "Beto", "Dario", "Fabio"}
    assert not ListMembership.objects.filter(contact_list=gold_list).exists()


def test_a_cancelled_operation_stops_before_its_next_batch(tenant, owner, plans):
    vip = make_list(tenant, "VIP")
    operation = do_start_bulk_operation(
        tenant, action="add_to_list", params={"list_id": vip.pk}, filters={}
    )
    run_bulk_operation(operation.pk, batch_size=2, max_batches=1)
    do_cancel_bulk_operation(operation, acting_user=owner)
    assert run_bulk_operation(operation.pk, batch_size=2) == FINISHED
    cancelled = reload(operation)
    assert (cancelled.status, cancelled.processed) == (JobStatus.CANCELLED, 2)
    assert ListMembership.objects.count() == 2
    with pytest.raises(ActionError) as exc:
        do_cancel_bulk_operation(cancelled, acting_user=owner)
    assert exc.value.code == "conflict"


def test_starting_is_audited(tenant, owner, plans):
    operation = do_start_bulk_operation(
        tenant, action="delete", params={}, filters=GOLD, acting_user=owner
    )
    event = AuditEvent.objects.get(tenant=tenant, action=bulk.BULK_STARTED)
    assert event.actor == owner
    assert event.target_id == str(operation.pk)
    assert event.data == {"action": "delete", "params": {}, "total": 4, "filter": GOLD}


# --- Validation and tenancy -----------------------------------------------------------------------


def test_it_explains_what_is_wrong_with_a_request(tenant, plans, other_tenant):
    theirs = make_list(other_tenant, "Theirs")
    ours = make_list(tenant, "Ours")
    cases = [
        ({"action": "paint"}, "action"),
        ({"action": "add_to_list", "params": {}}, "params.list_id"),
        ({"action": "add_to_list", "params": {"list_id": theirs.pk}}, "params.list_id"),
        (
            {"action": "move_to_list", "params": {"from_list_id": ours.pk, "to_list_id": ours.pk}},
            "params.to_list_id",
        ),
        ({"action": "set_attribute", "params": {"key": "tier", "value": "many"}}, "params.value"),
        ({"action": "set_attribute", "params": {"key": "colour", "value": "red"}}, "params.key"),
    ]
    for request, field in cases:
        with pytest.raises(InvalidBulkOperation) as exc:
            do_start_bulk_operation(tenant, ids=[plans["Ana"].pk], **request)
        assert field in exc.value.errors, (request, exc.value.errors)
    with pytest.raises(InvalidBulkOperation) as exc:
        do_start_bulk_operation(
            tenant, action="delete", filters={"attributes": [{"key": "plan", "value": "iron"}]}
        )
    assert exc.value.errors["filter.attributes[0].value"].startswith("“iron” is not one of")
    with pytest.raises(InvalidBulkOperation):
        do_start_bulk_operation(tenant, action="delete", ids=[1], filters={})
    assert not BulkOperation.objects.exists()


def test_another_tenants_contacts_are_never_touched(tenant, other_tenant, plans):
    define(other_tenant, "plan", "choice", choices=["gold"])
    theirs = make_contact(other_tenant, "Theirs", attributes={"plan": "gold"})
    with pytest.raises(ActionError, match="nothing to do"):
        do_start_bulk_operation(tenant, action="delete", ids=[theirs.pk])
    mixed = do_start_bulk_operation(
        tenant, action="delete", ids=[theirs.pk, plans["Beto"].pk, 987_654]
    )
    assert mixed.contact_ids == [plans["Beto"].pk]
    by_filter = do_start_bulk_operation(
        tenant, action="set_attribute", params={"key": "tier", "value": 9}, filters=GOLD
    )
    run_bulk_operation(mixed.pk)
    run_bulk_operation(by_filter.pk)
    theirs.refresh_from_db()
    assert theirs.attributes == {"plan": "gold"}
    assert not Contact.objects.filter(pk=plans["Beto"].pk).exists()
    assert reload(by_filter).total == 4

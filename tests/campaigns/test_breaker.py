"""The provider circuit breaker on the real Redis: opening, cool-down, one probe, closing."""

import threading
import time

import pytest

from campaigns.breaker import account_breaker


@pytest.fixture
def breaker():
    return account_breaker("twilio", f"AC{time.monotonic_ns()}", threshold=3, cooldown=0.3)


def test_consecutive_failures_open_it_and_a_success_in_between_resets_the_count(breaker):
    assert breaker.allow().state == "closed"
    assert breaker.record_failure() is False
    assert breaker.record_failure() is False
    breaker.record_success()
    assert [breaker.record_failure() for _ in range(3)] == [False, False, True]
    decision = breaker.allow()
    assert (decision.allowed, decision.state) == (False, "open")
    assert 0 < decision.retry_in <= 0.3


def test_after_the_cool_down_one_probe_decides(breaker):
    for _ in range(3):
        breaker.record_failure()
    time.sleep(0.35)
    probe = breaker.allow()
    assert (probe.allowed, probe.state) == (True, "half_open")
    assert breaker.allow().allowed is False  # only one probe at a time
    breaker.record_success()
    assert breaker.allow().state == "closed"


def test_a_failed_probe_opens_it_again(breaker):
    for _ in range(3):
        breaker.record_failure()
    time.sleep(0.35)
    assert breaker.allow().allowed
    assert breaker.record_failure() is True
    assert breaker.allow().state == "open"


def test_workers_racing_for_the_probe_get_exactly_one(breaker):
    for _ in range(3):
        breaker.record_failure()
    time.sleep(0.35)
    results = []
    start = threading.Barrier(8)

    def worker() -> None:
        mine = account_breaker("twilio", breaker.key.rsplit(":", 1)[1], threshold=3, cooldown=0.3)
        start.wait()
        results.append(mine.allow().allowed)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results) == [False] * 7 + [True]

"""The shared token bucket on the real Redis: bursts, refills, workers together, batching."""

import threading
import time

import pytest
import redis
from django.conf import settings

from campaigns.ratelimit import TokenBucket, redis_client, sender_bucket


def bucket(rate: float, capacity: int, name: str) -> TokenBucket:
    return sender_bucket(1, f"test-{name}-{time.monotonic_ns()}", rate=rate, capacity=capacity)


def test_a_full_bucket_allows_a_burst_then_refills_at_its_rate():
    limiter = bucket(5, 5, "burst")
    assert limiter.take(10) == (5, 0.0)
    granted, wait = limiter.take(1)
    assert granted == 0 and 0 < wait <= 0.2
    time.sleep(wait + 0.02)
    assert limiter.take(3)[0] == 1


def test_workers_sharing_a_bucket_never_exceed_it_together():
    rate, capacity, total = 20, 5, 60
    key_bucket = bucket(rate, capacity, "shared")
    granted_at: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = TokenBucket(redis_client(), key_bucket.key, rate, capacity)
        while True:
            with lock:
                if len(granted_at) >= total:
                    return
            granted, wait = mine.take(3)
            now = time.monotonic()
            with lock:
                granted_at.extend([now] * granted)
            if not granted:
                time.sleep(wait)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    granted_at.sort()
    # In any one-second window: at most a second's refill plus the initial burst.
    for i, start in enumerate(granted_at):
        in_window = sum(1 for t in granted_at[i:] if t - start < 1.0)
        assert in_window <= rate + capacity, (in_window, start)
    span = granted_at[total - 1] - granted_at[0]
    assert span >= (total - capacity) / rate * 0.9  # and it did wait for the refills


class CountingRedis(redis.Redis):
    """The real client, counting the commands it sends."""

    calls = 0

    def execute_command(self, *args, **options):
        self.calls += 1
        return super().execute_command(*args, **options)


def test_taking_in_batches_costs_one_redis_call_per_batch():
    client = CountingRedis.from_url(settings.REDIS_URL)
    limiter = TokenBucket(client, bucket(10_000, 1_000, "batch").key, 10_000, 1_000)
    limiter.take(1)  # loads the script (EVALSHA, then SCRIPT LOAD and EVALSHA again)
    client.calls = 0
    granted = sum(limiter.take(50)[0] for _ in range(20))
    assert granted == 1_000
    assert client.calls == 20  # 1,000 messages, 20 calls: one per 50


def test_a_bucket_needs_a_positive_rate_and_capacity():
    with pytest.raises(ValueError):
        bucket(0, 5, "bad")
    with pytest.raises(ValueError):
        bucket(5, 0, "bad")

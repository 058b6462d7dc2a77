"""A token bucket in Redis shared by every worker: one atomic script, Redis's own clock.

Workers take tokens in batches (``take(50)``) so the limiter costs one Redis call per batch,
not per message; a bucket refills at ``rate`` tokens per second up to ``capacity``. Using the
server's ``TIME`` keeps workers on machines with drifting clocks from over-spending.
"""

from dataclasses import dataclass

import redis
from django.conf import settings

# KEYS: the buckets; ARGV: tokens wanted, then rate per second and capacity of each bucket.
# Every bucket gives the same number of tokens (the fewest any of them has), so a campaign's
# own pacing and its sender's cap are honoured in one call. Returns {granted, milliseconds until
# the next token when none was granted}.
TAKE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local granted = tonumber(ARGV[1])
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i])
  local capacity = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if tokens == nil then
    tokens = capacity
    at = now_ms
  end
  tokens = math.min(capacity, tokens + (now_ms - at) * rate / 1000)
  levels[i] = tokens
  granted = math.min(granted, math.floor(tokens))
  if tokens < 1 then
    wait = math.max(wait, math.ceil((1 - tokens) * 1000 / rate))
  end
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i])
  local capacity = tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 'tokens', tostring(levels[i] - granted), 'at', now_ms)
  redis.call('PEXPIRE', key, math.ceil(capacity / rate * 1000) + 60000)
end
if granted > 0 then wait = 0 end
return {granted, wait}
"""


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@dataclass
class TokenBucket:
    """``rate`` tokens per second, bursts up to ``capacity``, under Redis key ``key``."""

    client: redis.Redis
    key: str
    rate: float
    capacity: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.capacity < 1:
            raise ValueError("A token bucket needs a positive rate and a capacity of at least 1.")
        self._take = self.client.register_script(TAKE)

    def take(self, wanted: int) -> tuple[int, float]:
        """``(granted, wait)``: up to ``wanted`` tokens now; when none, how many seconds until
        the next one."""
        if wanted < 1:
            return 0, 0.0
        return take_together([self], wanted)


def take_together(buckets: list[TokenBucket], wanted: int) -> tuple[int, float]:
    """``(granted, wait)`` from several buckets of one Redis at once: the same number of tokens
    from each, in one atomic call."""
    if wanted < 1 or not buckets:
        return 0, 0.0
    args: list = [wanted]
    for bucket in buckets:
        args += [repr(float(bucket.rate)), bucket.capacity]
    granted, wait_ms = buckets[0]._take(keys=[b.key for b in buckets], args=args)
    return int(granted), int(wait_ms) / 1000


def sender_bucket(
    tenant_id: int, sender: str, *, rate: float, capacity: int, client: redis.Redis | None = None
) -> TokenBucket:
    """The bucket every worker shares for one tenant's sender address."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    key = f"{prefix}:campaigns:bucket:{tenant_id}:{sender}"
    return TokenBucket(client or redis_client(), key, rate, capacity)


def campaign_bucket(
    campaign_id: int, *, rate: float, capacity: int, client: redis.Redis | None = None
) -> TokenBucket:
    """A campaign's own pacing (a delay between messages, a window, a cap)."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    key = f"{prefix}:campaigns:pacing:{campaign_id}"
    return TokenBucket(client or redis_client(), key, rate, capacity)

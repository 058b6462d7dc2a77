"""A token bucket in Redis shared by every worker: one atomic script, Redis's own clock.

Workers take tokens in batches (``take(50)``) so the limiter costs one Redis call per batch,
not per message; a bucket refills at ``rate`` tokens per second up to ``capacity``. Using the
server's ``TIME`` keeps workers on machines with drifting clocks from over-spending.
"""

from dataclasses import dataclass

import redis
from django.conf import settings

# KEYS[1]: the bucket; ARGV: rate per second, capacity, tokens wanted.
# Returns {granted, milliseconds until the next token when none was granted}.
TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then
  tokens = capacity
  at = now_ms
end
tokens = math.min(capacity, tokens + (now_ms - at) * rate / 1000)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now_ms)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 60000)
local wait = 0
if granted == 0 then
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
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
        granted, wait_ms = self._take(
            keys=[self.key], args=[repr(float(self.rate)), self.capacity, wanted]
        )
        return int(granted), int(wait_ms) / 1000


def sender_bucket(tenant_id: int, sender: str, *, rate: float, capacity: int) -> TokenBucket:
    """The bucket every worker shares for one tenant's sender address."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    key = f"{prefix}:campaigns:bucket:{tenant_id}:{sender}"
    return TokenBucket(redis_client(), key, rate, capacity)

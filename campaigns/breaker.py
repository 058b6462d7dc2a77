"""A circuit breaker per provider account, shared by every worker through Redis.

Closed: sends go through; ``threshold`` consecutive failures open it. Open: nothing is sent
until ``cooldown`` seconds have passed. Half-open: exactly one worker gets to send a probe;
its success closes the breaker, its failure opens it for another cool-down. Times are Redis's
own clock, so all workers agree on when the cool-down ends.
"""

from dataclasses import dataclass

import redis
from django.conf import settings

# KEYS: failures, open_until, probe. ARGV: threshold, cooldown ms.
# Returns 1 when this failure opened (or re-opened) the breaker.
FAILURE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local failures = redis.call('INCR', KEYS[1])
local probing = redis.call('DEL', KEYS[3]) == 1
if probing or failures >= tonumber(ARGV[1]) then
  local was_open = tonumber(redis.call('GET', KEYS[2]) or '0') > now_ms
  redis.call('SET', KEYS[2], now_ms + tonumber(ARGV[2]), 'PX', tonumber(ARGV[2]) * 10)
  if was_open then return 0 end
  return 1
end
return 0
"""

# KEYS: open_until, probe. ARGV: cooldown ms. Returns {allowed, state, ms until it reopens}.
ALLOW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local open_until = redis.call('GET', KEYS[1])
if not open_until then return {1, 'closed', 0} end
open_until = tonumber(open_until)
if now_ms < open_until then return {0, 'open', open_until - now_ms} end
if redis.call('SET', KEYS[2], now_ms, 'NX', 'PX', tonumber(ARGV[1])) then
  return {1, 'half_open', 0}
end
return {0, 'half_open', 0}
"""


@dataclass
class Decision:
    allowed: bool
    state: str  # "closed", "open" or "half_open"
    retry_in: float  # seconds until the cool-down ends (open only)


@dataclass
class CircuitBreaker:
    client: redis.Redis
    key: str
    threshold: int = 5
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        self._failure = self.client.register_script(FAILURE)
        self._allow = self.client.register_script(ALLOW)
        self._keys = [f"{self.key}:failures", f"{self.key}:open_until", f"{self.key}:probe"]

    @property
    def _cooldown_ms(self) -> int:
        return int(self.cooldown * 1000)

    def allow(self) -> Decision:
        """May this worker send now? (In half-open state, only the one probe may.)"""
        allowed, state, wait_ms = self._allow(keys=self._keys[1:], args=[self._cooldown_ms])
        state = state.decode() if isinstance(state, bytes) else state
        return Decision(bool(allowed), state, int(wait_ms) / 1000)

    def is_open(self) -> bool:
        """Is the cool-down still running? (Asks without taking the half-open probe.)"""
        open_until = self.client.get(self._keys[1])
        if open_until is None:
            return False
        seconds, micros = self.client.time()
        return int(open_until) > seconds * 1000 + micros // 1000

    def record_failure(self) -> bool:
        """A send failed; True when this failure opened the breaker."""
        return bool(self._failure(keys=self._keys, args=[self.threshold, self._cooldown_ms]))

    def record_success(self) -> None:
        """A send worked: the breaker closes and the failure count starts again."""
        self.client.delete(*self._keys)


def account_breaker(provider: str, account: str, *, threshold: int = 5, cooldown: float = 30):
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    key = f"{prefix}:campaigns:breaker:{provider}:{account}"
    return CircuitBreaker(redis.Redis.from_url(settings.REDIS_URL), key, threshold, cooldown)

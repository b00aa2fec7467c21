"""429 for an address that keeps sending unknown tokens.

The count is kept in memory by each service process (the `limits` library's moving window): with
N replicas an address gets N times the allowance, and a restart forgets it. Enough to make guessing
tokens slow (they are 256-bit random anyway) and to keep a misconfigured client from hammering the
key store; a shared count would need a shared store (Redis) this project does not run.
"""
from __future__ import annotations

import time

from limits import parse, storage, strategies

DEFAULT_LIMIT = "20/minute"  # unknown tokens per client address


class BadTokenThrottle:
    def __init__(self, limit: str | None = None):
        self.item = parse(limit or DEFAULT_LIMIT)
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def failed(self, address: str) -> None:
        self.limiter.hit(self.item, "bad-token", address)

    def retry_after(self, address: str) -> float:
        """Seconds until this address may try again; 0 when it may now."""
        if self.limiter.test(self.item, "bad-token", address):
            return 0
        reset_at, _ = self.limiter.get_window_stats(self.item, "bad-token", address)
        return max(1.0, reset_at - time.time())

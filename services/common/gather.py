"""Ask several services the same question over nameko RPC, within one deadline.

Every call goes out at once; what has not answered by the deadline is named as missing, never left
out silently. nameko 2's RpcProxy has no timeout of its own: the wait is bounded with
eventlet.Timeout (a late reply is dropped by the reply listener).
"""
from __future__ import annotations

import json
from datetime import date, datetime

import eventlet

from .logs import get_logger

log = get_logger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0


def jsonable(value):
    """What an RPC reply may carry: JSON types only (datetimes as ISO text)."""
    def default(item):
        if isinstance(item, (datetime, date)):
            return item.isoformat()
        return str(item)

    return json.loads(json.dumps(value, default=default))


def gather(proxies: dict, method: str, *args, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> tuple[dict, dict]:
    """{service: answer} and {service: why it is missing} for `method(*args)` on each proxy."""
    answers, missing, pending = {}, {}, {}
    for service, proxy in proxies.items():
        try:
            pending[service] = getattr(proxy, method).call_async(*args)
        except Exception as exc:  # e.g. UnknownService: nobody consumes its RPC queue
            missing[service] = f"{service} did not answer ({type(exc).__name__})"
    timer = eventlet.Timeout(timeout)
    try:
        for service, reply in pending.items():
            try:
                answers[service] = reply.result()
            except eventlet.Timeout:
                raise
            except Exception as exc:  # the remote method raised
                missing[service] = f"{service} failed to answer ({type(exc).__name__})"
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        for service in pending:
            if service not in answers and service not in missing:
                missing[service] = f"{service} did not answer within {timeout:g} seconds"
    finally:
        timer.cancel()
    if missing:
        log.warning("gather_incomplete", method=method, missing=sorted(missing))
    return answers, missing

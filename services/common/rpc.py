"""nameko RPC on a quorum queue, so a cluster losing a node keeps serving requests.

nameko's own `rpc` entrypoint consumes a classic queue (`rpc-<service>`), which
lives on one node: when that node stops, re-declaring it fails with NOT_FOUND,
and because every entrypoint of a service shares one consumer connection, the
service stops consuming its events too (seen in bench/cluster_faults.py). This
`rpc` declares `rpc-<service>.v2` as a quorum queue; callers are unchanged
(`RpcProxy` publishes to the same exchange and routing keys). Reply queues stay
nameko's: exclusive to the caller's connection, declared again on reconnect.
"""
from __future__ import annotations

from kombu import Queue
from nameko.rpc import RPC_QUEUE_TEMPLATE, Rpc, RpcConsumer, get_rpc_exchange

from .consumer import QUORUM


class QuorumRpcConsumer(RpcConsumer):
    def setup(self):
        if self.queue is None:
            service_name = self.container.service_name
            self.queue = Queue(f"{RPC_QUEUE_TEMPLATE.format(service_name)}.v2",
                               exchange=get_rpc_exchange(self.container.config),
                               routing_key=f"{service_name}.*", durable=True, queue_arguments=dict(QUORUM))
            self.queue_consumer.register_provider(self)
            self._registered = True


class QuorumRpc(Rpc):
    rpc_consumer = QuorumRpcConsumer()


rpc = QuorumRpc.decorator

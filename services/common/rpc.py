"""nameko RPC on a quorum queue, so a cluster losing a node keeps serving requests.

nameko's own `rpc` entrypoint consumes a classic queue (`rpc-<service>`), which
lives on one node: when that node stops, re-declaring it fails with NOT_FOUND,
and because every entrypoint of a service shared nameko's one consumer
connection, the service stopped consuming its events too (seen in
bench/cluster_faults.py; each consumer now has its own connection,
queue_consumer.py). This `rpc` declares `rpc-<service>.v2` as a quorum queue; callers are unchanged
(`RpcProxy` publishes to the same exchange and routing keys). The caller's
reply queue has the same trap (nameko declares it as a plain queue on the node
it first reached): `ServiceRpc` makes it exclusive to its connection, so after
a failover it is declared again on the node the caller reconnected to (a reply
in flight at that moment is lost, and the caller's deadline names the service).
"""
from __future__ import annotations

import uuid

from kombu import Queue
from nameko.rpc import (RPC_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TEMPLATE, ReplyListener, Rpc, RpcConsumer, RpcProxy,
                        get_rpc_exchange)

from .consumer import QUORUM
from .queue_consumer import OwnQueueConsumer


class QuorumRpcConsumer(RpcConsumer):
    queue_consumer = OwnQueueConsumer()  # its own connection, like every consumer here

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


class FailoverReplyListener(ReplyListener):
    queue_consumer = OwnQueueConsumer()

    def setup(self):
        reply_queue_uuid = uuid.uuid4()
        self.routing_key = str(reply_queue_uuid)
        self.queue = Queue(RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, reply_queue_uuid),
                           exchange=get_rpc_exchange(self.container.config), routing_key=self.routing_key,
                           exclusive=True)
        self.queue_consumer.register_provider(self)


class ServiceRpc(RpcProxy):
    """nameko's RpcProxy with a reply queue that follows the caller's connection to any node."""

    rpc_reply_listener = FailoverReplyListener()

"""RabbitMQ for every service: events, RPC to the nodes, the nodes' command queues."""
from capytale.messaging.bus import Bus, MessagingUnavailable, RpcTimeout, delete_topology
from capytale.messaging.envelope import BadMessage, Envelope, Topology
from capytale.messaging.per_broker import one_per_broker
from capytale.messaging.worker import Worker

__all__ = ["Bus", "MessagingUnavailable", "RpcTimeout", "Envelope", "BadMessage", "Topology", "Worker",
           "delete_topology", "one_per_broker"]

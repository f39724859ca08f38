"""RabbitMQ for every service: events, RPC to the nodes, the nodes' command queues."""
from capytale.messaging.bus import Bus, MessagingUnavailable, RpcTimeout, delete_topology
from capytale.messaging.envelope import BadMessage, Envelope, Topology
from capytale.messaging.per_broker import one_per_broker
from capytale.messaging.reconnect import backoff_delays, keep_connected
from capytale.messaging.worker import Worker

__all__ = ["Bus", "MessagingUnavailable", "RpcTimeout", "Envelope", "BadMessage", "Topology", "Worker",
           "backoff_delays", "delete_topology", "keep_connected", "one_per_broker"]

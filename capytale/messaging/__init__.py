"""RabbitMQ for every service: events, RPC to the nodes, the nodes' command queues."""
from capytale.messaging.bus import Bus, MessagingUnavailable, RpcTimeout
from capytale.messaging.envelope import EVENTS_EXCHANGE, BadMessage, Envelope, node_queue
from capytale.messaging.worker import Worker

__all__ = ["Bus", "MessagingUnavailable", "RpcTimeout", "Envelope", "BadMessage",
           "EVENTS_EXCHANGE", "node_queue", "Worker"]

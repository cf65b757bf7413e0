"""Hear, over Redis pub/sub, the cancels other instances relay for commands running here.

On a Redis Cluster the channel is a shard channel (SPUBLISH/SSUBSCRIBE): it lives on the
node that owns its slot instead of being broadcast to every node, and the client moves the
subscription when that slot fails over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub, RedisCluster
from redis.exceptions import RedisError

from voice_mcp.services.commands.redis_keys import cancel_channel
from voice_mcp.services.store import Redis

log = logging.getLogger(__name__)
RETRY_S = (0.2, 0.5, 1.0, 2.0)
POLL_S = 1.0


class CancelListener:
    """Subscribe to this instance's channel (cancels, or another `channel` such as answers);
    resubscribe after Redis comes back.

    It polls with a timeout and checks a stop flag rather than relying on task cancellation
    alone: redis-py's pub/sub read can swallow a cancellation and then wait forever.
    """

    def __init__(self, redis: Redis, instance_id: str, on_cancel: Callable[[str], None], *,
                 channel: str | None = None) -> None:
        self.redis = redis
        self.channel = channel or cancel_channel(instance_id)
        self.on_cancel = on_cancel
        self.stopping = False

    async def run(self) -> None:
        failures = 0
        while not self.stopping:
            try:
                await self._listen()
                failures = 0
            except (RedisError, OSError) as err:
                log.warning("cancel channel lost: %s", type(err).__name__)
                await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1

    async def _listen(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            if isinstance(pubsub, ClusterPubSub):
                await pubsub.ssubscribe(self.channel)
            else:
                await pubsub.subscribe(self.channel)
            while not self.stopping:
                message = await _next(pubsub)
                if message is not None and message.get("type") in ("message", "smessage"):
                    data = message["data"]
                    self.on_cancel(data.decode() if isinstance(data, bytes) else str(data))
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]


async def _next(pubsub: PubSub) -> dict[str, Any] | None:
    if isinstance(pubsub, ClusterPubSub):
        message = await pubsub.get_sharded_message(ignore_subscribe_messages=True,
                                                   timeout=POLL_S)
    else:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
    return message if isinstance(message, dict) else None


async def relay_cancel(redis: Redis, instance_id: str, command_id: str) -> None:
    """Tell the instance running a command to cancel it (a shard channel on a cluster)."""
    if isinstance(redis, RedisCluster):
        await redis.spublish(cancel_channel(instance_id), command_id)
    else:
        await redis.publish(cancel_channel(instance_id), command_id)

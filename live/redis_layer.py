"""channels-redis's layer with connection pools that wait.

redis-py's default pool raises `MaxConnectionsError` the moment a 101st command is in
flight; a burst of connects (each joining three or four groups) or of closes then fails
the consumers and leaves their group memberships behind. Here each of the layer's pools
is a `BlockingConnectionPool`: at most REDIS_MAX_CONNECTIONS connections, and a command
waits up to REDIS_POOL_TIMEOUT seconds for one to come free.

`create_pool` is the layer's own hook for making a shard's pool (one per host)."""

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from django.conf import settings
from redis.asyncio import BlockingConnectionPool


def bounded_pool_kwargs() -> dict:
    """The size and the wait of every Redis pool of a process (channel layer, cache)."""
    return {
        "max_connections": settings.REDIS_MAX_CONNECTIONS,
        "timeout": settings.REDIS_POOL_TIMEOUT,
    }


class RedisChannelLayer(BaseRedisChannelLayer):
    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        return BlockingConnectionPool.from_url(address, **host, **bounded_pool_kwargs())

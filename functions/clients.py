"""Clients for Redis, Firestore and FCM: created once per process, lazily, shared by all threads.

2nd gen functions serve several requests per instance at once; each client here is thread-safe
(redis-py's connection pool, the Firestore gRPC client, firebase-admin's requests session), so one
of each is shared. Nothing is created at import, which keeps cold starts light.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from . import config

_lock = threading.Lock()
_instances: dict[str, Any] = {}


def _once(name: str, factory: Callable[[], Any]) -> Any:
    obj = _instances.get(name)
    if obj is None:
        with _lock:
            obj = _instances.get(name)
            if obj is None:
                obj = _instances[name] = factory()
    return obj


def _make_redis():
    import redis
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry

    cfg = config.get()
    kwargs: dict[str, Any] = dict(
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        max_connections=64,
        # A brief disconnect (Memorystore failover, certificate rotation) is retried in-process;
        # a longer outage surfaces as an error and the event is retried by Pub/Sub.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=3),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )
    if cfg.redis_password:
        kwargs["password"] = cfg.redis_password
    if cfg.redis_ca_cert:
        kwargs["ssl_ca_certs"] = cfg.redis_ca_cert
    if cfg.redis_cluster:
        return _make_redis_cluster(cfg.redis_url, kwargs)
    return redis.Redis.from_url(cfg.redis_url, **kwargs)


def _make_redis_cluster(url: str, kwargs: dict[str, Any]):
    """A RedisCluster client (Memorystore for Redis Cluster) with the same timeouts and retry.

    REDIS_URL names any one node; the client discovers the others and routes each command by
    key slot. Every key of one notification subject shares a hash tag, so each protocol step
    (one SET, one Lua script) touches a single slot. In cluster mode the retry belongs to the
    cluster client (it also follows MOVED/ASK and refreshes the slot map), not to the nodes.
    """
    from redis import BlockingConnectionPool
    from redis.cluster import RedisCluster

    kwargs = dict(kwargs)
    retry = kwargs.pop("retry")
    kwargs.pop("retry_on_error", None)
    kwargs.pop("health_check_interval", None)
    kwargs["max_connections"] = 32  # per node
    # More concurrent requests than pooled connections wait for one (bounded by `timeout`) instead
    # of failing with MaxConnectionsError, which would turn a burst into Pub/Sub retries.
    kwargs["connection_pool_class"] = BlockingConnectionPool
    kwargs["timeout"] = 5.0
    return RedisCluster.from_url(url, retry=retry, **kwargs)


def redis_client():
    """The shared redis-py client (a connection pool underneath; a RedisCluster with REDIS_CLUSTER=1)."""
    return _once("redis", _make_redis)


def _make_firestore():
    from google.cloud import firestore

    return firestore.Client(project=config.get(need_redis=False).project)


def firestore_client():
    """The shared Firestore client; FIRESTORE_EMULATOR_HOST points it at the emulator."""
    return _once("firestore", _make_firestore)


def _local_fcm_credentials():
    """A fixed bearer token for a local FCM server: no Google credentials needed, and a 401 answer
    goes through google-auth's refresh-and-retry exactly as it would in production."""
    from google.auth.credentials import Credentials

    class LocalCredentials(Credentials):
        def __init__(self) -> None:
            super().__init__()
            self.token = "local-fcm-server"

        def refresh(self, request) -> None:
            self.token = "local-fcm-server"

    return LocalCredentials()


def _make_messaging():
    import firebase_admin
    from firebase_admin import credentials, messaging

    cfg = config.get(need_redis=False)
    options = {"projectId": cfg.project, "httpTimeout": cfg.fcm_timeout_seconds}
    name = f"byok-notifier-{id(cfg)}"
    if cfg.fcm_endpoint:
        credential: Any = _local_fcm_credentials()
    else:
        credential = credentials.ApplicationDefault()
    app = firebase_admin.initialize_app(credential=credential, options=options, name=name)
    service = messaging._get_messaging_service(app)
    if cfg.fcm_endpoint:
        # firebase-admin has no emulator switch for FCM; the URL is read once per service.
        service._fcm_url = f"{cfg.fcm_endpoint}/v1/projects/{cfg.project}/messages:send"
    return app


def firebase_app():
    """The firebase-admin app used for sending pushes."""
    return _once("firebase", _make_messaging)


def reset() -> None:
    """Close and forget every client (tests change the environment between cases)."""
    with _lock:
        items = list(_instances.items())
        _instances.clear()
    for name, obj in items:
        try:
            if name == "firebase":
                import firebase_admin

                firebase_admin.delete_app(obj)
            elif hasattr(obj, "close"):
                obj.close()
        except Exception:  # noqa: BLE001 - best effort on teardown
            pass

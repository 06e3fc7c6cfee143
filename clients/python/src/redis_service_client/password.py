"""The password from the Secret mounted as a file, followed when the kubelet refreshes it.

Shared by every generated Python client: the Sentinel writer and reader
(redis_service_client.sentinel) and the Redis Cluster adapter (client/python/redis_client.py
of a cluster repository). One implementation: the file is polled, a new connection signs
in with what the file says now, and on a change each client closes its idle pooled
connections so that the next ones sign in with the new password. A rotation then needs
no restart of the app.

    provider = password_file(os.environ["REDIS_PASSWORD_FILE"])   # one per file and process
    client = redis.Redis(..., credential_provider=provider)
    follow(provider, client, lambda c: close_idle(c.connection_pool))
"""

from __future__ import annotations

import os
import threading
import weakref

import redis
from redis.credentials import CredentialProvider

# Optional: the password as a file the kubelet refreshes (the redis-env component mounts it).
PASSWORD_FILE_ENV = "REDIS_PASSWORD_FILE"


class PasswordFile(CredentialProvider):
    """The password from a file the kubelet refreshes (REDIS_PASSWORD_FILE), as a redis-py
    credential provider: every new connection signs in with what the file says now.

    The Secret is mounted as a volume (no subPath): on a rotation the kubelet writes the
    new files into a fresh directory and swaps the `..data` symlink to it, atomically,
    a minute or so after the Secret changed. A thread stats the file every `poll_s` (the
    inode and mtime change with the swap; a stat is cheap) and re-reads it when they
    change. When the password changed it calls its listeners: the clients close their
    idle pooled connections, so the next ones sign in with the new password (a Sentinel
    client also renews its subscriptions). A connection busy at that moment goes back to its pool
    afterwards with the old password: the listeners run again on the next
    SETTLE_POLLS polls, closing idle connections each time, so every old connection is
    gone within a few seconds and the rotation's last step (retire) can proceed.

    One per file and process (password_file() shares it); the password never appears in
    its repr, its errors or its logs."""

    POLL_S = 1.0
    SETTLE_POLLS = 5

    def __init__(self, path: str, poll_s: float = POLL_S):
        self.path, self.poll_s = path, poll_s
        self.changes = 0  # how many times the password changed since start
        self._stamp = self._stat()
        self._password = self._read()
        self._settle = 0
        self._listeners: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="password-file")
        self._thread.start()

    def __repr__(self) -> str:
        return f"PasswordFile({self.path!r})"

    def _stat(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as handle:
                password = handle.read().rstrip("\r\n")
        except OSError as exc:
            raise RuntimeError(
                f"{PASSWORD_FILE_ENV}: cannot read {self.path} ({exc.strerror})"
            ) from None
        if not password:
            raise RuntimeError(f"{PASSWORD_FILE_ENV}: {self.path} is empty")
        return password

    def get_credentials(self):
        return (self._password,)

    def on_change(self, listener) -> None:
        """Call listener() when the password changed, and on the SETTLE_POLLS polls after.
        It should hold its client weakly: the provider outlives the clients."""
        with self._lock:
            self._listeners.append(listener)

    def check(self) -> bool:
        """One poll: re-read the file when its stamp changed; call the listeners when the
        password changed (and while settling). True when the password changed now."""
        stamp, changed = self._stat(), False
        if stamp is not None and stamp != self._stamp:
            try:
                password = self._read()
            except RuntimeError:
                password = None  # half-written or gone for a moment: keep the one we have
            if password is not None:
                self._stamp = stamp
                if password != self._password:
                    self._password, changed = password, True
                    self.changes += 1
                    self._settle = self.SETTLE_POLLS + 1
        if self._settle:
            self._settle -= 1
            with self._lock:
                self._listeners = [listener for listener in self._listeners if listener()]
        return changed

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the thread must live; the next poll tries again
                pass

    def close(self) -> None:
        self._stop.set()


_password_files: dict[str, PasswordFile] = {}
_password_files_lock = threading.Lock()


def password_file(path: str) -> PasswordFile:
    """The process's one PasswordFile for `path` (one polling thread per file)."""
    with _password_files_lock:
        if path not in _password_files:
            _password_files[path] = PasswordFile(path)
        return _password_files[path]


def follow(provider: PasswordFile, target, refresh) -> None:
    """Call refresh(target) when the provider's password changes (and on its settling polls
    after), holding target weakly: once target is gone the listener is dropped."""
    ref = weakref.ref(target)

    def listener() -> bool:
        obj = ref()
        if obj is None:
            return False
        refresh(obj)
        return True

    provider.on_change(listener)


def close_idle(pool: redis.ConnectionPool) -> None:
    """Close the pool's idle connections: the next ones sign in with the current password."""
    pool.disconnect(inuse_connections=False)

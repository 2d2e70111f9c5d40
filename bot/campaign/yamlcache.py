"""A cache of parsed campaign YAML for commands that read a campaign they do not change.

ruamel parses in pure Python: the benchmark's 330-line campaign takes it 0.08 s, a tenth of
`kindling report`'s second. What `load_yaml` returns depends only on the text, this parser's
code and ruamel's version, so the result of a parse without problems is stored (marshal: plain
dicts, lists, strings and tuples; nothing is executed on loading) under a key made of all three,
and a later run with the same key reads it back instead (about 1 ms). Any change to the file, to
bot/campaign/yamlsource.py or to ruamel gives another key and a new parse. One file per campaign
file (named by its resolved path), overwritten when the key changes, so the cache stays as small
as the campaigns. A cache that cannot be read or written is ignored: it only ever saves time.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
from pathlib import Path

import ruamel.yaml

from bot.campaign import yamlsource
from bot.campaign.yamlsource import Located, load_yaml
from bot.problems import Problem

FORMAT = b"kindling-yaml-cache 1"
_PARSER = Path(yamlsource.__file__)


def _key(text: str) -> str:
    digest = hashlib.sha256(FORMAT)
    digest.update(ruamel.yaml.__version__.encode())
    digest.update(_PARSER.read_bytes())
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _entry(cache_dir: Path, path: Path) -> Path:
    name = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogatepass")).hexdigest()
    return cache_dir / f"{name[:32]}.marshal"


def load_yaml_cached(
    text: str, file: str, path: Path, cache_dir: Path
) -> tuple[Located | None, list[Problem]]:
    """`load_yaml(text, file)`, read from `cache_dir` when this text was parsed before."""
    try:
        key = _key(text)
        entry = _entry(cache_dir, path)
    except (OSError, ValueError):  # the parser's file unreadable, an unresolvable path
        return load_yaml(text, file)
    try:
        stored = marshal.loads(entry.read_bytes())
        if isinstance(stored, tuple) and len(stored) == 4 and stored[0] == key:
            _, data, values, keys = stored
            return Located(data=data, file=file, values=values, keys=keys, text=text), []
    except (OSError, ValueError, EOFError, TypeError):
        pass  # no entry, an unreadable or foreign one: parse
    located, problems = load_yaml(text, file)
    if located is not None and not problems:
        # A read-only or full disk: no cache, the same result.
        with contextlib.suppress(OSError, ValueError):
            _store(entry, (key, located.data, located.values, located.keys))
    return located, problems


def _store(entry: Path, value: tuple) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(marshal.dumps(value))
        os.replace(temporary, entry)  # readers see the old entry or the new one, never half
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

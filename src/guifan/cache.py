"""What is derived from the package's data and kept between runs: the bundled rulebook, parsed and
validated; the phrase automata's tables; the meaning stage's bank vectors and loaded encoder.

Everything here is a cache: a missing, unreadable or foreign file is computed again, and a folder
that cannot be written (a read-only home) only costs the time of computing it next run. Pickles are
read only from files this user owns and no one else may write, in a folder no one else may write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``GUIFAN_CACHE``, else ``~/.cache/guifan``."""
    return Path(os.environ.get("GUIFAN_CACHE") or Path.home() / ".cache" / "guifan")


@lru_cache(maxsize=1)
def package_stamp() -> str:
    """A digest of the size and time of each file whose content shapes what is cached from a
    rulebook (the rulebook's classes and bundled YAML, the engine, the rules, text normalization):
    an edited or upgraded file makes new cache files instead of reading the old ones."""
    root = Path(__file__).parent
    parts = []
    for folder in (root, root / "engine", root / "rules", root / "rulebook", root / "rulebook" / "meaning"):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.endswith((".py", ".yaml")):
                found = entry.stat()
                parts.append(f"{folder.name}/{entry.name}:{found.st_size}:{found.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def private(path: Path) -> bool:
    """``path`` and its folder belong to this user and only they may write them."""
    try:
        for found in (path.stat(), path.parent.stat()):
            if found.st_uid != os.geteuid() or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return False
    except OSError:
        return False
    return True


def load_pickle(path: Path) -> Any | None:
    """The object pickled at ``path``, or None: no such file, not private, or not loadable (a
    file of another version of a library)."""
    if not private(path):
        return None
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except Exception:
        return None


def save_pickle(path: Path, value: Any) -> None:
    """Pickles ``value`` to ``path`` (readable by this user only), best effort."""
    write(path, lambda f: pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL))


def save_bytes(path: Path, data: bytes) -> None:
    write(path, lambda f: f.write(data))


def prune(pattern: str, keep: int) -> None:
    """Removes all but the ``keep`` newest files of ``cache_dir()`` matching ``pattern``: each
    version of a company's rulebook makes new ones."""
    try:
        found = sorted(cache_dir().glob(pattern), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in found[keep:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # another process pruning at the same time


def write(path: Path, fill) -> None:
    """Writes ``path`` through ``fill(file)`` into a temporary file renamed over it, so that a
    process reading it sees a whole file or none; best effort (nothing is raised)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as f:
            os.chmod(tmp, 0o600)
            fill(f)
        tmp.replace(path)
    except Exception:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)

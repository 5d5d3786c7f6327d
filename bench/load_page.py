"""Load run: N concurrent users on the action page and the overdue listing, bounded in time
and in requests, against `followup serve` on 127.0.0.1 with a calendar of many actions.

    .venv/bin/python bench/load_page.py --users 50 --seconds 30 --items 2000

By default the load comes from ApacheBench (`ab`, Debian's apache2-utils; never installed
from here: `apt-get install apache2-utils`). ab sends one URL, so there are two runs, one
after the other, against the same server: (a) one representative action page (an open,
dated call, not a random action), then (b) ``--overdue-path`` with HTTP Basic auth; each
with ``--users`` concurrent keep-alive connections for ``--seconds``, at most
``--max-requests`` requests. The figures are ab's own (requests per second, its percentile
table, its failed and non-2xx counts).

``--tool loop`` is the earlier hand-made load: each user is a thread with its own
connection, looping: nine page views of random actions, then one overdue listing
(``--overdue-every``; ``--overdue-path ''`` for a CalDAV REPORT of the tasks due before now,
the query such a page makes, as before /overdue existed).

Either way the server is set up in a temporary folder, one /overdue is made before the
clock starts, the server is stopped and the folder deleted at the end, even on error, and
the script exits 1 if any request failed. It prints Markdown for docs/PERFORMANCE.md. Not a
test: a by-hand benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import os
import platform
import random
import re
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


AB_INSTALL = "ab (ApacheBench) is not installed: apt-get install apache2-utils"


@contextlib.contextmanager
def served(args: argparse.Namespace):
    """`followup serve` on 127.0.0.1 over a temporary folder of ``args.items`` actions, warmed
    up: yields (base URL, page tokens, seconds the first overdue listing took alone or None).
    The server is stopped and the folder deleted on the way out, even on error."""
    work = Path(tempfile.mkdtemp(prefix="followup-load-"))
    server = None
    try:
        data = DataDir.at(work / "var")
        users.set_password(data.users_file, USER, PASSWORD)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        tokens = fill(data, base, args.items)
        server = start(data.root, port)
        now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
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
        yield base, tokens, cold
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    """The hand-made load: one thread per user, nine random pages then one listing."""
    results: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    budget = [args.max_requests]
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    load_before = os.getloadavg()
    with served(args) as (base, tokens, cold):
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
    print("\n".join(machine(load_before)))
    print(table(results, elapsed, args))
    if cold is not None:
        print(f"\nThe first {args.overdue_path} after start, alone (not counted above): "
              f"{cold * 1000:.0f} ms")
    return 1 if any(status < 0 for _, status, _ in results) else 0


def machine(load_before: tuple[float, float, float]) -> list[str]:
    """The lines that say where and when a run was made."""
    model_name = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    return [f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`",
            f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC (at the end of the run)",
            f"- machine: {platform.machine()}, {os.cpu_count()} CPUs ({model_name}), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"Radicale {importlib.metadata.version('radicale')}",
            "- load average before the run (1, 5, 15 min): "
            + ", ".join(f"{value:.2f}" for value in load_before)]


def ab(args: argparse.Namespace, url: str, auth: bool) -> dict:
    """One ApacheBench run on one URL; returns its figures, ab's output and exit code."""
    seconds = str(max(1, round(args.seconds)))  # ab takes whole seconds
    command = ["ab", "-q", "-k", "-r", "-l", "-c", str(args.users), "-t", seconds,
               "-n", str(args.max_requests), "-s", "60"]  # -n after -t: -t alone means 50000
    if auth:
        command += ["-A", f"{USER}:{PASSWORD}"]
    command.append(url)
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=args.seconds + 180)
        out, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as late:
        out, code = f"ab did not stop in time: {late}", -1
    sys.stderr.write(out)

    def number(label: str) -> float | None:
        found = re.search(rf"^{label}:\s+([0-9.]+)", out, re.MULTILINE)
        return float(found.group(1)) if found else None

    def percent(n: int) -> float | None:
        found = re.search(rf"^\s*{n}%\s+([0-9]+)", out, re.MULTILINE)
        return float(found.group(1)) if found else None

    figures = {"complete": number("Complete requests"), "failed": number("Failed requests"),
               "non2xx": number("Non-2xx responses") or 0, "rate": number("Requests per second"),
               "taken": number("Time taken for tests"), "p50": percent(50),
               "p95": percent(95), "max": percent(100), "code": code}
    figures["ok"] = (code == 0 and figures["complete"] is not None
                     and not figures["failed"] and not figures["non2xx"])
    return figures


def run_ab(args: argparse.Namespace) -> int:
    """The load from ApacheBench: the page, then the overdue listing, one ab run each."""
    if shutil.which("ab") is None:
        print(AB_INSTALL, file=sys.stderr)
        return 2
    if not args.overdue_path:
        print("--tool ab needs --overdue-path (ab sends GETs only)", file=sys.stderr)
        return 2
    if args.max_requests < args.users:
        print("--max-requests must be at least --users for ab", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    rows = []
    with served(args) as (base, tokens, cold):
        page = tokens[args.page_index]
        for name, url, auth in (("page", f"{base}/a/{page}", False),
                                (args.overdue_path, base + args.overdue_path, True)):
            load_now = os.getloadavg()[0]
            rows.append((name, load_now, ab(args, url, auth)))
    version = subprocess.run(["ab", "-V"], capture_output=True, text=True).stdout
    package = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "apache2-utils"],
                             capture_output=True, text=True) if shutil.which("dpkg-query") else None
    lines = machine(load_before)
    lines += [f"- tool: {version.splitlines()[0] if version else 'ab'}"
              + (f" (apache2-utils {package.stdout})" if package and package.stdout else ""),
              f"- ab each time: `ab -q -k -r -l -c {args.users} -t {max(1, round(args.seconds))} "
              f"-n {args.max_requests} -s 60 [-A {USER}:…] URL`; page: "
              f"`/a/<token of load-{args.page_index}>` (one action, always the same), "
              f"then `{args.overdue_path}` with HTTP Basic auth",
              f"- {args.items} actions in the calendar", "",
              "| request | load avg before | complete | non-2xx | failed | per second "
              "| p50 ms | p95 ms | max ms | seconds |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def show(value: float | None, digits: int = 0) -> str:
        return "?" if value is None else f"{value:.{digits}f}"

    for name, load_now, f in rows:
        lines.append(f"| {name} | {load_now:.2f} | {show(f['complete'])} | {show(f['non2xx'])} "
                     f"| {show(f['failed'])} | {show(f['rate'], 1)} | {show(f['p50'])} "
                     f"| {show(f['p95'])} | {show(f['max'])} | {show(f['taken'], 1)} |")
    print("\n".join(lines))
    if cold is not None:
        print(f"\nThe first {args.overdue_path} after start, alone (not counted above): "
              f"{cold * 1000:.0f} ms")
    bad = [name for name, _, f in rows if not f["ok"]]
    if bad:
        print(f"\nerrors (non-2xx, failed, or ab's exit code) in: {', '.join(bad)}")
    return 1 if bad else 0


def table(results, elapsed: float, args) -> str:
    lines = [f"- {args.users} users, {elapsed:.1f} s, {args.items} actions in the calendar",
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
                        help="stop after this many requests even before the time is up "
                             "(ab: per run)")
    parser.add_argument("--tool", choices=["ab", "loop"], default="ab",
                        help="ab: ApacheBench, two runs (one page, then the listing); "
                             "loop: the hand-made threads, a mix of random pages and listings")
    parser.add_argument("--overdue-path", default="/overdue",
                        help="the listing; '' (loop only): a CalDAV REPORT instead")
    parser.add_argument("--page-index", type=int, default=1,
                        help="ab: which action's page (load-N; 1 is open, not a meeting)")
    parser.add_argument("--overdue-every", type=int, default=10,
                        help="loop: every Nth request of a user is the listing; 0: never")
    args = parser.parse_args()
    return run_ab(args) if args.tool == "ab" else run(args)


if __name__ == "__main__":
    sys.exit(main())

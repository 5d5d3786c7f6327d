"""PUT at scale: followup's plugins against stock Radicale, in the same run.

Run by hand (bounded to a few minutes, loopback only)::

    .venv/bin/python bench/put_at_scale.py            # 1,000 and 10,000 items
    .venv/bin/python bench/put_at_scale.py 1000 5000  # other sizes

For each storage (stock ``multifilesystem``; ``plugins.storage``) and each size, a calendar
is pre-filled by writing N .ics files straight into its folder and loading Radicale's item
cache once, then a real Radicale (waitress on 127.0.0.1, HTTP/1.1 keep-alive, htpasswd
login cached) answers: new-item PUTs (If-None-Match: *) and update PUTs (If-Match, the
summary changed). The plugins side runs as `followup serve` runs it: the storage plugin and
the protect filter in front of Radicale (plugins/protect.py). It prints a Markdown table for
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import base64
import http.client
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import radicale  # noqa: E402
import radicale.config  # noqa: E402
import radicale.storage  # noqa: E402
import waitress  # noqa: E402

from plugins.protect import protect_input  # noqa: E402
from server import model  # noqa: E402
from server.tokens import PageTokens  # noqa: E402

NEW_PUTS = {1000: 40, 10000: 15}
UPDATE_PUTS = 40
# Updates are a few milliseconds and the plugin's part a fraction of one: four rounds over
# the same items (each round a new title) make the median steady to a tenth of a millisecond.
UPDATE_ROUNDS = 4
PASSWORD = "bench-password"
BASE_URL = "http://127.0.0.1:5232"


def item(uid: str, summary: str = "Call back about the renewal") -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VTODO\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261201T090000Z\r\nSUMMARY:{summary}\r\n"
            "DUE;VALUE=DATE:20261215\r\n"
            "X-FOLLOWUP-OPPORTUNITY;LABEL=Renewal:urn:followup:opportunity:Renewal\r\n"
            "END:VTODO\r\nEND:VCALENDAR\r\n")


def stamped(uid: str, href: str) -> str:
    url = PageTokens("bench-secret").page_url(BASE_URL, f"/dav/alice/actions/{href}")
    return model.to_text(model.stamp(model.parse(item(uid)), url))


def configuration(root: Path, storage_type: str):
    root.mkdir(parents=True)
    (root / "users").write_text(f"alice:{PASSWORD}\n")
    (root / "secret_key").write_text("bench-secret\n")
    (root / "rights").write_text(
        "[root]\nuser: .+\ncollection:\npermissions: R\n"
        "[principal]\nuser: .+\ncollection: {user}\npermissions: RW\n"
        "[calendars]\nuser: .+\ncollection: {user}/[^/]+\npermissions: rw\n")
    config = radicale.config.load([])
    storage = {"type": storage_type, "filesystem_folder": str(root / "collections"),
               "strict_preconditions": "True"}
    if storage_type == "plugins.storage":
        storage.update({"followup_base_url": BASE_URL,
                        "followup_secret_file": str(root / "secret_key")})
    config.update({"auth": {"type": "htpasswd", "htpasswd_filename": str(root / "users"),
                            "htpasswd_encryption": "plain", "cache_logins": "True",
                            "delay": "0"},
                   "rights": {"type": "from_file", "file": str(root / "rights")},
                   "storage": storage, "web": {"type": "none"},
                   "logging": {"level": "warning"}}, "bench", privileged=True)
    return config


def prefill(config, size: int) -> list[str]:
    storage = radicale.storage.load(config)
    props = {"tag": "VCALENDAR", "C:supported-calendar-component-set": "VEVENT,VTODO"}
    with storage.acquire_lock("w"):
        storage.create_collection("/alice/")
        storage.create_collection("/alice/actions/", props=props)
    folder = Path(config.get("storage", "filesystem_folder")) / "collection-root" / "alice" / \
        "actions"
    hrefs = []
    for n in range(size):
        href = f"pre-{n}.ics"
        # Odd items are in followup's format already (as the plugin stores them, the same
        # bytes on both sides), even ones as a client wrote them before the plugin.
        text = stamped(f"pre-{n}", href) if n % 2 else item(f"pre-{n}")
        (folder / href).write_text(text, newline="")
        hrefs.append(href)
    with storage.acquire_lock("r"):  # Radicale's item cache, built once as in production
        collection = next(iter(storage.discover("/alice/actions/")))
        for _ in collection.get_all():
            pass
    return hrefs


class Server:
    def __init__(self, config) -> None:
        app = radicale.Application(config)
        if config.get("storage", "type") == "plugins.storage":
            # As `followup serve` runs it: the protect filter in front of Radicale.
            app = protect_input(app)
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        self.port = self.server.effective_port
        threading.Thread(target=self.server.run, daemon=True).start()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}"}

    def request(self, method: str, href: str, body: str = "", headers: dict | None = None):
        self.conn.request(method, f"/alice/actions/{href}", body=body.encode(),
                          headers={**self.auth, **(headers or {})})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, response.getheader("ETag"), data

    def put(self, href: str, body: str, headers: dict) -> float:
        headers = {"Content-Type": "text/calendar; charset=utf-8", **headers}
        started = time.perf_counter()
        status, _, data = self.request("PUT", href, body, headers)
        elapsed = time.perf_counter() - started
        if status not in (201, 204):
            raise RuntimeError(f"PUT {href}: {status} {data[:200]!r}")
        return elapsed

    def close(self) -> None:
        self.conn.close()
        # Let the worker threads finish first: closing the trigger under a running task
        # makes waitress print an OSError traceback.
        self.server.task_dispatcher.shutdown()
        self.server.close()


def measure(size: int) -> dict[str, dict[str, float]]:
    """Both storages side by side, requests interleaved (stock, ours, stock, ours...), so
    that whatever else the machine does weighs on both alike."""
    kinds = ("multifilesystem", "plugins.storage")
    with tempfile.TemporaryDirectory(prefix="followup-bench-") as tmp:
        servers, hrefs = {}, {}
        try:
            for kind in kinds:
                config = configuration(Path(tmp) / kind, storage_type=kind)
                hrefs[kind] = prefill(config, size)
                servers[kind] = Server(config)
            times: dict[str, dict[str, list[float]]] = {
                k: {"new": [], "first update": [], "update": []} for k in kinds}
            for round_ in range(2 + NEW_PUTS.get(size, 20)):
                for kind in kinds:  # the first two rounds warm up (logins, the index)
                    uid = str(uuid.uuid4())
                    took = servers[kind].put(f"{uid}.ics", item(uid), {"If-None-Match": "*"})
                    if round_ >= 2:
                        times[kind]["new"].append(took)
            picked = range(0, size - 1, 2 * max(1, size // (2 * UPDATE_PUTS)))
            # The first update of an item written before the plugin gives it its page link
            # (even items); updates of items in followup's format are what clients do all day.
            for which, parity, rounds in (("first update", 0, 1),
                                          ("update", 1, UPDATE_ROUNDS)):
                for round_ in range(rounds):
                    for n in [p + parity for p in list(picked)[:UPDATE_PUTS]]:
                        for kind in kinds:
                            server, href = servers[kind], hrefs[kind][n]
                            _, etag, text = server.request("GET", href)
                            # An escaped comma, as clients write one in a title.
                            title = f"Called\\\\, left a message ({which} {n}.{round_})"
                            body = re.sub(r"SUMMARY:[^\r\n]*", f"SUMMARY:{title}",
                                          text.decode())
                            times[kind][which].append(
                                server.put(href, body, {"If-Match": etag}))
        finally:
            for server in servers.values():
                server.close()
    return {kind: {k: statistics.median(v) for k, v in t.items()} for kind, t in times.items()}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                   if x.startswith("MemTotal")) / 1024 / 1024
    except (OSError, StopIteration):
        ram = 0.0
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
            f"{ram:.1f} GiB RAM, Python {platform.python_version()}, "
            f"Radicale {radicale.VERSION}")


def main(sizes: list[int]) -> None:
    started = time.time()
    print(f"Machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| items | PUT | stock Radicale | followup plugins | plugins / stock |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for size in sizes:
        result = measure(size)
        stock, ours = result["multifilesystem"], result["plugins.storage"]
        for kind, label in (("new", "new item (If-None-Match)"),
                            ("first update", "first update of a pre-plugin item"),
                            ("update", "update (If-Match)")):
            print(f"| {size:,} | {label} | {stock[kind] * 1000:.1f} ms | "
                  f"{ours[kind] * 1000:.1f} ms | {ours[kind] / stock[kind]:.2f}× |",
                  flush=True)
    print(f"\n(medians; whole run {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or [1000, 10000])

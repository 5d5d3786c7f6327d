"""Whole-calendar PUT: followup's plugins against stock Radicale, in the same run.

Run by hand (a few minutes, loopback only)::

    .venv/bin/python bench/whole_calendar_put.py            # 1,000 and 3,000 items
    .venv/bin/python bench/whole_calendar_put.py 1000 6000  # other sizes

A client that imports or replaces a calendar sends it whole: one PUT of a VCALENDAR holding
every task to the calendar's own URL (``If-Match: *``). Radicale answers it under its global
write lock, so every other user's request waits for it. For each size, each storage (stock
``multifilesystem``; ``plugins.storage`` behind the protect filter, as `followup serve`
runs it) gets an empty actions calendar (displayname "Actions", VEVENT and VTODO), then the
same body is PUT to both, interleaved (stock, plugins, stock, plugins, ...), each PUT
replacing the calendar the previous one wrote. The items are as clients write them: half
plain, half with an escaped comma in the title and a link to an opportunity, one in ten with
a place typed with an unescaped comma (so the protect filter re-encodes the whole body, its
worst case). During each whole-calendar PUT another user PUTs new items into their own
calendar, one after the other: the longest of those PUTs is how long Radicale's write lock
kept everyone else waiting. It prints a Markdown table
for docs/PERFORMANCE.md, and checks on the plugins side that every item got its page link
and that the calendar kept its name.
"""

from __future__ import annotations

import base64
import http.client
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import radicale.storage
from put_at_scale import PASSWORD, Server, configuration, item, machine  # this folder

ROUNDS = {1000: 3, 3000: 2}
KINDS = ("multifilesystem", "plugins.storage")
PROPS = {"tag": "VCALENDAR", "D:displayname": "Actions",
         "C:supported-calendar-component-set": "VEVENT,VTODO"}


def body(size: int) -> str:
    """One VCALENDAR of `size` tasks, as a client exports a calendar."""
    parts = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"]
    for n in range(size):
        summary = f"Called\\, left a message ({n})" if n % 2 else f"Call back ({n})"
        link = ("X-FOLLOWUP-OPPORTUNITY;LABEL=Renewal:urn:followup:opportunity:Renewal\r\n"
                if n % 2 else "")
        place = "LOCATION:12 rue de l'Exemple, Lyon\r\n" if n % 10 == 0 else ""
        parts.append(f"BEGIN:VTODO\r\nUID:whole-{n}\r\nDTSTAMP:20261201T090000Z\r\n"
                     f"SUMMARY:{summary}\r\nDUE;VALUE=DATE:20261215\r\n{link}{place}"
                     "END:VTODO\r\n")
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts)


def empty_calendars(config) -> None:
    """alice's actions calendar, empty, and bob's, for the other user's PUT."""
    users = Path(config.get("auth", "htpasswd_filename"))
    users.write_text(users.read_text() + f"bob:{PASSWORD}\n")
    storage = radicale.storage.load(config)
    with storage.acquire_lock("w"):
        for user in ("alice", "bob"):
            storage.create_collection(f"/{user}/")
            storage.create_collection(f"/{user}/actions/", props=PROPS)


def other_user_puts(port: int, until: threading.Event, took: list[float]) -> None:
    """bob PUTs new items into his own calendar, one after the other, until told to stop."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    token = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "If-None-Match": "*",
               "Content-Type": "text/calendar; charset=utf-8"}
    while not until.is_set():
        uid = str(uuid.uuid4())
        started = time.perf_counter()
        conn.request("PUT", f"/bob/actions/{uid}.ics", body=item(uid).encode(),
                     headers=headers)
        response = conn.getresponse()
        response.read()
        took.append(time.perf_counter() - started)
        if response.status != 201:
            raise RuntimeError(f"bob's PUT: {response.status}")
    conn.close()


def put_whole(server: Server, text: str) -> tuple[float, float]:
    """The whole-calendar PUT's time, and the longest of bob's PUTs made meanwhile."""
    headers = {"Content-Type": "text/calendar; charset=utf-8", "If-Match": "*"}
    done, other = threading.Event(), []
    bob = threading.Thread(target=other_user_puts, args=(server.port, done, other))
    bob.start()
    started = time.perf_counter()
    status, _, data = server.request("PUT", "", text, headers)
    elapsed = time.perf_counter() - started
    done.set()
    bob.join()
    if status not in (201, 204):
        raise RuntimeError(f"whole-calendar PUT: {status} {data[:200]!r}")
    return elapsed, max(other)


def check_plugins_side(server: Server, size: int) -> None:
    """Every item stamped, the calendar still named: the work measured is the real one."""
    status, _, data = server.request("GET", "whole-1.ics")
    if status != 200 or b"X-FOLLOWUP-PAGE" not in data:
        raise RuntimeError(f"whole-1.ics not stamped: {status} {data[:200]!r}")
    found = body_count = 0
    folder = Path(server.folder)
    for path in folder.glob("*.ics"):
        body_count += 1
        found += b"X-FOLLOWUP-PAGE" in path.read_bytes()
    if found != size or body_count != size:
        raise RuntimeError(f"{found} of {body_count} items stamped, {size} sent")
    props = (folder / ".Radicale.props").read_text()
    if "Actions" not in props or "VEVENT,VTODO" not in props:
        raise RuntimeError(f"calendar properties lost: {props}")


def measure(size: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Whole-calendar PUT times and bob's waits, per storage."""
    text = body(size)
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    waits: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="followup-bench-") as tmp:
        servers: dict[str, Server] = {}
        try:
            for kind in KINDS:
                config = configuration(Path(tmp) / kind, storage_type=kind)
                empty_calendars(config)
                servers[kind] = Server(config)
                servers[kind].folder = str(
                    Path(config.get("storage", "filesystem_folder")) / "collection-root"
                    / "alice" / "actions")
                servers[kind].request("GET", "")  # log in once: bcrypt is not measured
            for _ in range(ROUNDS.get(size, 2)):
                for kind in KINDS:
                    took, waited = put_whole(servers[kind], text)
                    times[kind].append(took)
                    waits[kind].append(waited)
            check_plugins_side(servers["plugins.storage"], size)
        finally:
            time.sleep(0.2)  # waitress closes bob's connections first, or it prints a traceback
            for server in servers.values():
                server.close()
    return times, waits


def main(sizes: list[int]) -> None:
    started = time.time()
    print(f"Machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| items | stock Radicale | followup plugins | plugins / stock | runs "
          "| other user's longest PUT, stock | the same, plugins |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        times, waits = measure(size)
        stock, ours = (statistics.median(times[kind]) for kind in KINDS)
        stock_wait, our_wait = (statistics.median(waits[kind]) for kind in KINDS)
        print(f"| {size:,} | {stock:.2f} s | {ours:.2f} s | {ours / stock:.2f}× | "
              f"{len(times['plugins.storage'])} | {stock_wait:.2f} s | {our_wait:.2f} s |",
              flush=True)
    print(f"\n(medians of whole-calendar PUTs, login cached first; whole run "
          f"{time.time() - started:.0f} s)")


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or [1000, 3000])

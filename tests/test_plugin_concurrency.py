"""The UID index under Radicale's lock: many client threads at once, and a second process
writing through the plugin into the same folder."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import PEOPLE
from tests.test_plugin_dav import Dav, task


def _put(url: str, body: str) -> int:
    token = base64.b64encode(f"alice:{PEOPLE['alice']}".encode()).decode()
    request = urllib.request.Request(url, data=body.encode(), method="PUT", headers={
        "Authorization": f"Basic {token}", "Content-Type": "text/calendar",
        "If-None-Match": "*"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_many_clients_at_once_one_uid_one_item(live):
    base = live.calendar_url("alice")
    jobs = [(f"{base}own-{n}.ics", task(f"own-{n}")) for n in range(24)]
    jobs += [(f"{base}dup-{n}.ics", task("shared-uid")) for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda job: _put(*job), jobs))
    assert statuses[:24] == [201] * 24
    assert sorted(statuses[24:]) == [201] + [409] * 7


def test_second_process_with_the_plugin_shares_the_index(tmp_path):
    dav = Dav(tmp_path / "var")
    assert dav.put("a.ics", task("first")).status_code == 201
    script = textwrap.dedent(f"""
        import radicale.item, radicale.storage
        from server import embedded
        from server.settings import DataDir
        data = DataDir.at({str(dav.data.root)!r})
        storage = radicale.storage.load(embedded.radicale_config(data, "http://127.0.0.1:9"))
        with storage.acquire_lock("w", "alice"):
            collection = next(iter(storage.discover("/alice/actions/")))
            assert not collection.has_uid("from-process")
            item = radicale.item.Item(collection_path="alice/actions",
                                      text={task("from-process")!r})
            item.prepare()
            collection.upload("p.ics", item)
            assert collection.has_uid("first") and collection.has_uid("from-process")
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120,
                   cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert dav.put("b.ics", task("from-process")).status_code == 409
    assert dav.put("c.ics", task("first")).status_code == 409
    assert dav.put("d.ics", task("new-one")).status_code == 201
    assert "followup:" in dav.text("p.ics")  # the other process stamped it too

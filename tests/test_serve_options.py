"""`followup serve` checks its options, and one data folder has one server.

Each test runs the real command in its own process on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal

import pytest
import requests

from server import model
from tests.dav import Client
from tests.test_acceptance import Served, free_port, run


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_port_out_of_range_is_one_clear_line(tmp_path, port):
    done = run("serve", "--port", port, "--data", str(tmp_path / "var"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "1 to 65535" in done.stderr and not (tmp_path / "var" / "server_url").exists()


def test_port_0_listens_on_a_free_port_and_names_it_everywhere(tmp_path):
    data = tmp_path / "var"
    assert run("user", "add", "alice", "--password", "alice-pw", "--data",
               str(data)).returncode == 0
    server = Served(data, port=0)
    try:
        assert server.port != 0 and ":0/" not in server.banner
        assert f"CalDAV: {server.base}/dav/" in server.banner
        assert (data / "server_url").read_text().strip() == server.base
        assert (data / "base_url").read_text().strip() == server.base
        made = run("new", "Call", "--url", server.base, "--user", "alice",
                   "--password", "alice-pw")
        assert made.returncode == 0, made.stderr
        [href] = [h for h in (data / "collections" / "collection-root" / "alice" /
                              "actions").glob("*.ics")]
        item = Client(server.base, "alice", "alice-pw").text(f"/dav/alice/actions/{href.name}")
        assert model.read(model.parse(item)).page.startswith(server.base + "/a/")
    finally:
        server.stop()


@pytest.mark.parametrize("url", ["ftp://x", "javascript:alert(1)", "crm.example.org",
                                 "https://", "http:///path", "https://crm.example.org:99999",
                                 "https://user:pw@crm.example.org", "https://crm.example.org/?a=1",
                                 "https://crm.example .org"])
def test_a_base_url_that_is_not_a_web_address_is_one_clear_line(tmp_path, url):
    data = tmp_path / "var"
    done = run("serve", "--port", str(free_port()), "--data", str(data), "--base-url", url)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "--base-url" in done.stderr and "Traceback" not in done.stderr
    assert not (data / "base_url").exists()


def test_a_base_url_with_a_path_and_a_port_is_taken(tmp_path):
    server = Served(tmp_path / "var", "--base-url", "https://crm.example.org:8443/crm/")
    try:
        assert "links point at https://crm.example.org:8443/crm/" in server.banner
    finally:
        server.stop()


def test_a_second_serve_on_the_same_data_is_refused(tmp_path):
    data = tmp_path / "var"
    first = Served(data)
    try:
        recorded = {name: (data / name).read_text() for name in ("server_url", "base_url")}
        second = run("serve", "--port", str(free_port()), "--data", str(data),
                     "--base-url", "https://other.example.org")
        assert second.returncode == 1 and second.stderr.count("\n") == 1, second.stderr
        assert "already running" in second.stderr
        assert f"process {first.proc.pid}" in second.stderr
        assert {name: (data / name).read_text() for name in recorded} == recorded
        assert requests.get(first.base + "/login", timeout=10).status_code == 200
    finally:
        first.stop()
    # Once the first one is stopped the folder is free again.
    again = Served(data)
    again.stop()


def test_a_crashed_servers_lock_does_not_block_the_next_start(tmp_path):
    data = tmp_path / "var"
    crashed = Served(data)
    os.kill(crashed.proc.pid, signal.SIGKILL)  # no cleanup at all: the lock file stays
    crashed.proc.wait(timeout=20)
    assert (data / "serve.lock").read_text().strip() == str(crashed.proc.pid)
    restarted = Served(data)
    try:
        assert requests.get(restarted.base + "/login", timeout=10).status_code == 200
        assert (data / "serve.lock").read_text().strip() == str(restarted.proc.pid)
    finally:
        restarted.stop()

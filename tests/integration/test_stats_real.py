"""``vmtui stats`` as a user runs it, against the real daemon while a tiny TCG guest burns CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BURN = "vmtui.burn"  # the tiny guest spins one busy loop per vCPU


def test_stats_json_shows_the_busy_guest_using_cpu(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("statscli", extra_cmdline=BURN)
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vmtui",
            "stats",
            "-c",
            libvirtd,
            "--format",
            "json",
            "--count",
            "2",
            "--interval",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["time"].endswith("+00:00")
        ours = [g for g in record["guests"] if g["guest"] == name]
        assert len(ours) == 1, f"{name} missing from {record}"
        guest = ours[0]
        assert guest["host"] == libvirtd and guest["state"] == "running"
        assert guest["uuid"] == dom.UUIDString() and guest["vcpus"] >= 1
        assert guest["cpu_percent"] is not None and 0 < guest["cpu_percent"] <= 100
        assert guest["mem_total_kib"] > 0


def test_stats_says_in_one_sentence_when_no_daemon_answers(tmp_path: Path) -> None:
    uri = f"qemu:///system?socket={tmp_path}/nothing-listens-here"
    proc = subprocess.run(
        [sys.executable, "-m", "vmtui", "stats", "-c", uri, "--count", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr

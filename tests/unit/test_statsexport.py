"""``vmtui stats``: the dashboard's per-guest figures as CSV, JSON lines or Prometheus text."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest

from tests.conftest import host_uri
from vmtui.backend import GuestInfo, GuestState, GuestStats, Snapshot
from vmtui.cli import main
from vmtui.statsexport import GuestSample, format_csv, format_json, format_prometheus, run, samples

AT = datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC)
HOST = "qemu+ssh://root@h1/system"

BUSY = GuestSample(
    host=HOST,
    guest='we"b\\1',
    uuid="u1",
    state="running",
    cpu_percent=12.3456,
    vcpus=2,
    mem_used_kib=1024,
    mem_total_kib=2048,
    disk_read_bps=100.0,
    disk_write_bps=0.0,
    net_rx_bps=5.5,
    net_tx_bps=None,
)
OFF = GuestSample(HOST, "db", "u2", "shut off", None, 1, None, 512, None, None, None, None)


def test_a_snapshot_becomes_the_dashboard_figures() -> None:
    running = GuestInfo(
        uuid="u1", name="web", state=GuestState.RUNNING, vcpus=2, memory_kib=4096, host=HOST
    )
    off = GuestInfo(
        uuid="u2", name="Db", state=GuestState.SHUTOFF, vcpus=1, memory_kib=512, host=HOST
    )
    stats = {
        "u1": GuestStats(
            "u1",
            1.0,
            cpu_percent=25.0,
            mem_current_kib=2048,
            mem_used_kib=1000,
            disk_read_bps=10.0,
            net_tx_bps=3.0,
        ),
        "u2": GuestStats("u2", 1.0, cpu_percent=99.0),  # stale figures of a stopped guest
    }
    db, web = samples([Snapshot(uri=HOST, time=1.0, guests=(running, off), stats=stats)])
    assert (db.guest, db.state, db.cpu_percent, db.mem_total_kib) == ("Db", "shut off", None, 512)
    assert (web.cpu_percent, web.vcpus, web.mem_used_kib, web.mem_total_kib) == (
        25.0,
        2,
        1000,
        2048,
    )
    assert (web.disk_read_bps, web.disk_write_bps, web.net_tx_bps) == (10.0, None, 3.0)


def test_csv_has_one_header_and_empty_cells_for_unknown_figures() -> None:
    text = format_csv(AT, [BUSY, OFF], header=True) + format_csv(AT, [OFF], header=False)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["time", "host", "guest", "uuid"]
    assert [r[0] for r in rows].count("time") == 1
    busy = dict(zip(rows[0], rows[1], strict=True))
    assert busy["time"] == "2026-11-29T12:00:05+00:00"
    assert busy["guest"] == 'we"b\\1'  # quoted by the csv module, read back intact
    assert busy["cpu_percent"] == "12.35" and busy["net_tx_bps"] == ""
    assert len(rows) == 4


def test_json_is_one_object_per_sample_per_line() -> None:
    text = format_json(AT, [BUSY, OFF]) + format_json(AT, [])
    lines = text.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["time"] == "2026-11-29T12:00:05+00:00"
    assert [g["guest"] for g in first["guests"]] == ['we"b\\1', "db"]
    assert first["guests"][0]["cpu_percent"] == pytest.approx(12.3456)
    assert first["guests"][1]["cpu_percent"] is None
    assert json.loads(lines[1])["guests"] == []


def test_prometheus_exposition_has_help_type_escaped_labels_and_no_invented_zeros() -> None:
    text = format_prometheus(AT, [BUSY, OFF])
    sample = re.compile(
        r'^(vmtui_[a-z_]+)\{host="((?:[^"\\]|\\.)*)",guest="((?:[^"\\]|\\.)*)"\} (\S+)$'
    )
    metrics: dict[tuple[str, str], str] = {}
    declared: set[str] = set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:]
            assert kind == "gauge"
            declared.add(name)
        elif not line.startswith("# HELP "):
            m = sample.match(line)
            assert m, line
            assert m.group(1) in declared  # TYPE comes before the samples
            assert m.group(2) == HOST
            metrics[(m.group(1), m.group(3))] = m.group(4)
    busy = 'we\\"b\\\\1'
    assert float(metrics[("vmtui_guest_cpu_percent", busy)]) == pytest.approx(12.35)
    assert metrics[("vmtui_guest_memory_used_bytes", busy)] == str(1024 * 1024)
    assert metrics[("vmtui_guest_running", busy)] == "1"
    assert metrics[("vmtui_guest_running", "db")] == "0"
    assert ("vmtui_guest_cpu_percent", "db") not in metrics  # unknown: left out, not 0
    assert ("vmtui_guest_net_tx_bytes_per_second", busy) not in metrics
    assert float(metrics[("vmtui_guest_disk_write_bytes_per_second", busy)]) == 0.0


@pytest.mark.parametrize("fmt", ["csv", "json", "prometheus"])
def test_each_format_samples_the_test_driver_count_times(fmt: str) -> None:
    out = io.StringIO()
    naps: list[float] = []
    now = [100.0]

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        now[0] += seconds + 0.1  # each poll after a nap takes 0.1 s

    run([host_uri("small_host")], interval=0.5, count=2, fmt=fmt, out=out, sleep=sleep,
        clock=lambda: now[0])  # fmt: skip
    # A priming poll, then one interval before each sample, on a steady beat: the second nap
    # is shorter by the time the first sample's poll took.
    assert naps == pytest.approx([0.5, 0.4])
    text = out.getvalue()
    names = ["alpha", "beta", "gamma", "saved", "temp"]
    if fmt == "json":
        records = [json.loads(line) for line in text.splitlines()]
        assert len(records) == 2
        assert [g["guest"] for g in records[0]["guests"]] == names
        assert {g["state"] for g in records[1]["guests"]} == {"running", "shut off", "paused"}
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["guest"] for r in rows] == names * 2
        assert rows[0]["vcpus"] == "2" and rows[0]["mem_total_kib"] == str(1024 * 1024)
    else:
        assert text.count("# TYPE vmtui_guest_vcpus gauge") == 2
        assert f'vmtui_guest_vcpus{{host="{host_uri("small_host")}",guest="alpha"}} 2' in text


def test_cli_prints_samples_and_says_in_one_sentence_when_it_cannot_connect(
    capsys: pytest.CaptureFixture[str],
) -> None:
    uri = host_uri("small_host")
    assert main(["stats", "-c", uri, "--count", "1", "--interval", "0.2", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["guests"]) == 5

    assert main(["stats", "-c", "test:///no/such/host.xml", "--count", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("Could not connect to test:///no/such/host.xml")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_refuses_nonsense_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["stats", "--count", "0"])
    assert exited.value.code == 2 and "--count must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "json", "prometheus"])
def test_hostile_names_reach_stats_output_escaped(fmt: str) -> None:
    """Issue 14 #4: C1 controls and bidi overrides in guest names went raw into `vmtui stats`
    output (a terminal or a log viewer reading it runs them)."""
    from tests.ui.rendered import unsafe_characters

    out = io.StringIO()
    run([host_uri("hostile_host")], interval=0.1, count=1, fmt=fmt, out=out,
        sleep=lambda _s: None)  # fmt: skip
    text = out.getvalue()
    assert not unsafe_characters(text), unsafe_characters(text)
    # escaped, still readable (JSON and Prometheus double the backslash once more)
    assert "x85del" in text and "x7fc1" in text and "u202egnp.exe" in text

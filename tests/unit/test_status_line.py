"""The status line shortens a long reason, never the countdown or the host count after it."""

from __future__ import annotations

from rich.text import Text

from vmtui.widgets.status_line import fit_status

LOST = (
    "Lost the connection to qemu:///system: Cannot recv data: Connection reset by peer. "
    "Retrying in 0.2s."
)


def drawn(symbol: str, message: str, width: int) -> str:
    return f"{symbol} {fit_status(symbol, message, width)}"


def test_a_sentence_that_fits_is_left_whole() -> None:
    assert drawn("●", "Connected to qemu:///system · 3 guests, 1 running", 78) == (
        "● Connected to qemu:///system · 3 guests, 1 running"
    )


def test_a_long_reason_is_shortened_and_the_countdown_kept() -> None:
    line = drawn("✖", LOST, 78)
    assert Text(line).cell_len <= 78
    assert line.startswith("✖ Lost the connection to qemu:///system: Cannot recv")
    assert line.endswith("… Retrying in 0.2s.")


def test_with_several_hosts_the_countdown_and_host_count_are_kept() -> None:
    line = drawn("✖", f"{LOST} · 2/3 hosts connected", 78)
    assert Text(line).cell_len <= 78
    assert line.endswith("… Retrying in 0.2s. · 2/3 hosts connected")


def test_a_wide_symbol_is_counted_by_its_cells() -> None:
    message = "qemu+ssh://root@hypervisor-17.example.com/system has not answered for 15s; waiting."
    line = drawn("⌛", f"{message} · 2/3 hosts connected", 60)
    assert Text(line).cell_len <= 60
    assert line.endswith("… · 2/3 hosts connected")


def test_too_narrow_to_keep_the_tail_the_end_is_cut_instead() -> None:
    line = drawn("✖", LOST, 30)
    assert Text(line).cell_len <= 30
    assert line.startswith("✖ Lost the connection") and line.endswith("…")

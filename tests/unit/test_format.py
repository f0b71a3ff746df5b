"""Short text for cells."""

from __future__ import annotations

from vmtui.core import format as fmt
from vmtui.widgets.guest_table import fit_name


def test_sizes_and_rates_are_compact() -> None:
    assert fmt.kib(0) == "0"
    assert fmt.kib(512 * 1024) == "512M"
    assert fmt.kib(1536 * 1024) == "1.5G"
    assert fmt.rate(None) == fmt.DASH
    assert fmt.rate(0.4) == "0"
    assert fmt.pair(2048, None) == f"2.0K/{fmt.DASH}"
    assert fmt.percent(99.97) == "100"


def test_long_names_are_cut_in_the_middle_so_shared_prefixes_stay_distinct() -> None:
    a, b = fit_name("vmtui-test-9-look", 12), fit_name("vmtui-test-9-vga", 12)
    assert len(a) == 12 and a != b
    assert a.startswith("vmtui") and a.endswith("look")
    assert fit_name("web1", 12) == "web1"


def test_sparkline_scales_to_the_maximum_and_keeps_gaps() -> None:
    assert fmt.sparkline([0.0, 50.0, 100.0, None], 4, 100.0) == "▁▅█ "
    assert fmt.sparkline([1.0], 3) == "  █"


def test_test_driver_uris_show_their_file_name_only() -> None:
    assert fmt.short_uri("test:///a/b/host.xml") == "test:///…/host.xml"
    assert fmt.short_uri("qemu:///system") == "qemu:///system"

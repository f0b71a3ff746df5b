"""The one size parser and unit table (vmtui.core.units)."""

from __future__ import annotations

import pytest

from vmtui.core import format as fmt
from vmtui.core.units import (
    GIB,
    KIB,
    MIB,
    SYMBOLS,
    UNITS,
    XML_UNITS,
    SizeError,
    exact_size,
    parse_size,
    xml_kib,
)

TIB = 1024**4
PIB = 1024**5


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1K", KIB),
        ("1M", MIB),
        ("1G", GIB),
        ("1T", TIB),
        ("1P", PIB),
        ("4k", 4 * KIB),
        ("2g", 2 * GIB),
        ("100b", 100),
        ("100B", 100),
        ("100bytes", 100),
        ("1.5G", 1.5 * GIB),
        ("0.5T", TIB / 2),
        ("0G", 0),
    ],
)
def test_every_prefix_is_binary(text: str, size: float) -> None:
    assert parse_size(text, "M") == size


@pytest.mark.parametrize("suffix", ["", "i", "iB", "ib", "B", "b", "IB"])
@pytest.mark.parametrize(("prefix", "size"), [("K", KIB), ("M", MIB), ("G", GIB), ("T", TIB)])
def test_suffixes_i_ib_and_b_change_nothing(prefix: str, suffix: str, size: int) -> None:
    """``GB`` typed by a person means GiB, as ``G``, ``Gi`` and ``GiB`` do."""
    assert parse_size(f"3{prefix}{suffix}", "M") == 3 * size


def test_terabytes_are_a_unit_everywhere() -> None:
    """allocation's own table had no "tb" (an XML unit='TB' read as KiB): one table has it."""
    assert parse_size("2TB", "M") == 2 * TIB
    assert parse_size("2tb", "M") == 2 * TIB
    assert xml_kib(2, "TB") == 2 * 1000**4 // KIB
    assert xml_kib(2, "TiB") == 2 * TIB // KIB


@pytest.mark.parametrize(("default", "size"), [("M", MIB), ("m", MIB), ("G", GIB), ("K", KIB)])
def test_a_bare_number_is_in_the_default_unit(default: str, size: int) -> None:
    assert parse_size("20", default) == 20 * size
    assert parse_size("20B", default) == 20  # a unit given wins over the default


@pytest.mark.parametrize("text", [" 2G ", "2 G", "2 GiB", "\t2g\n"])
def test_white_space_around_and_between_is_fine(text: str) -> None:
    assert parse_size(text, "M") == 2 * GIB


@pytest.mark.parametrize("text", ["", " ", "lots", "-5G", "1,5G", ".5G", "5.G", "2G!", "1e3", "G"])
def test_what_is_not_a_number_is_not_a_size(text: str) -> None:
    with pytest.raises(SizeError) as err:
        parse_size(text, "M")
    assert err.value.unit is None
    assert err.value.text == text
    assert str(err.value) == f"'{text.strip()}' is not a size"
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("text", "unit"), [("12X", "X"), ("2Gx", "Gx"), ("1 ib", "ib"), ("3E", "E")]
)
def test_an_unknown_unit_is_named_as_typed(text: str, unit: str) -> None:
    with pytest.raises(SizeError) as err:
        parse_size(text, "M")
    assert err.value.unit == unit
    assert str(err.value) == f"'{unit}' is not a unit"


def test_libvirt_xml_units_are_decimal_when_they_say_so() -> None:
    assert xml_kib(1, None) == 1  # no unit= is KiB
    assert xml_kib(1, "") == 1
    assert xml_kib(3, "KiB") == xml_kib(3, "k") == xml_kib(3, "K") == 3
    assert xml_kib(2048, "KB") == 2000  # 2,048,000 bytes
    assert xml_kib(1, "MiB") == xml_kib(1, "M") == 1024
    assert xml_kib(1, "MB") == 976  # 1,000,000 bytes, cut to whole KiB
    assert xml_kib(1, "GiB") == 1024**2
    assert xml_kib(1, "GB") == 976562
    assert xml_kib(4096, "bytes") == xml_kib(4096, "b") == 4
    assert xml_kib(1000, "b") == 0
    assert xml_kib(7, "parsecs") == 7  # a unit vmtui does not know reads as KiB


def test_the_typed_and_xml_tables_differ_only_on_decimal_names() -> None:
    differ = {name for name in UNITS if UNITS[name] != XML_UNITS[name]}
    assert differ == {"kb", "mb", "gb", "tb", "pb"}
    assert UNITS.keys() == XML_UNITS.keys()


@pytest.mark.parametrize(
    ("n_bytes", "smallest", "text"),
    [
        (2 * GIB, "B", "2G"),
        (1536 * KIB, "K", "1536K"),
        (1536 * MIB, "K", "1536M"),
        (3 * TIB, "K", "3T"),
        (100, "B", "100B"),
    ],
)
def test_exact_size_reads_back(n_bytes: int, smallest: str, text: str) -> None:
    assert exact_size(n_bytes, smallest) == text
    assert parse_size(text, "M") == n_bytes


def test_exact_size_stops_at_the_largest_unit_asked_for() -> None:
    assert exact_size(PIB, "K", largest="T") == "1024T"
    assert exact_size(PIB, "K") == "1P"


def test_the_formatter_shows_the_same_symbols() -> None:
    assert SYMBOLS == ("B", "K", "M", "G", "T", "P")
    assert [fmt.size(1024**n * 2) for n in range(len(SYMBOLS))] == [
        f"2.0{s}" if s != "B" else "2B" for s in SYMBOLS
    ]

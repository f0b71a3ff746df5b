"""The / query language (vmtui/query.py): table-driven, on plain Subjects."""

from __future__ import annotations

import pytest

from vmtui.core.query import QueryError, Subject, parse, parse_size_kib, select

GIB = 1024 * 1024

GUESTS = [
    Subject(
        "1",
        "web1",
        "running",
        active=True,
        tags=("web", "prod"),
        host="hv1",
        uri="qemu+ssh://hv1/system",
        cpu=72.0,
        mem_kib=4 * GIB,
        vcpus=4,
        autostart=True,
    ),
    Subject(
        "2",
        "web2",
        "paused",
        active=True,
        tags=("web",),
        host="hv2",
        uri="qemu+ssh://hv2/system",
        cpu=0.0,
        mem_kib=2 * GIB,
        vcpus=2,
    ),
    Subject(
        "3",
        "db1",
        "running",
        active=True,
        tags=("DB", "prod"),
        host="hv2",
        uri="qemu+ssh://hv2/system",
        cpu=12.5,
        mem_kib=8 * GIB,
        vcpus=8,
        autostart=True,
    ),
    Subject("4", "Build-CI", "shut off", tags=("ci",), host="hv1", mem_kib=GIB // 2, vcpus=1),
    Subject("5", "my vm", "crashed", host="hv1", cpu=None, mem_kib=None, vcpus=1),
]


def names(query: str) -> list[str]:
    return [s.name for s in select(query, GUESTS)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["web1", "web2", "db1", "Build-CI", "my vm"]),
        ("   ", ["web1", "web2", "db1", "Build-CI", "my vm"]),
        ("web", ["web1", "web2"]),
        ("WEB", ["web1", "web2"]),
        ("build ci", ["Build-CI"]),  # every word must be in the name
        ('"my vm"', ["my vm"]),
        ("name:db", ["db1"]),
        ("state:running", ["web1", "db1"]),
        ("state:paused", ["web2"]),
        ("state:shutoff", ["Build-CI"]),
        ("state:off", ["Build-CI"]),
        ("state:stopped", ["Build-CI"]),
        ("state:crashed", ["my vm"]),
        ("state:active", ["web1", "web2", "db1"]),
        ("state:inactive", ["Build-CI", "my vm"]),
        ("tag:db", ["db1"]),  # tags compare case-insensitively
        ("tag:prod", ["web1", "db1"]),
        ("tag:p*", ["web1", "db1"]),
        ("tag:nope", []),
        ("host:hv2", ["web2", "db1"]),
        ("host:HV1", ["web1", "Build-CI", "my vm"]),
        ("autostart:yes", ["web1", "db1"]),
        ("autostart:no", ["web2", "Build-CI", "my vm"]),
        ("cpu>50", ["web1"]),
        ("cpu>=12.5", ["web1", "db1"]),
        ("cpu<20", ["web2", "db1"]),  # unknown CPU never matches a comparison
        ("mem>2G", ["web1", "db1"]),
        ("mem>=2G", ["web1", "web2", "db1"]),
        ("mem<1024M", ["Build-CI"]),
        ("mem=512", ["Build-CI"]),  # a bare number is MiB
        ("mem>4GiB", ["db1"]),
        ("vcpus>=4", ["web1", "db1"]),
        ("name~^web[0-9]$", ["web1", "web2"]),
        ("name~CI$", ["Build-CI"]),
        # AND inside an alternative, OR between alternatives
        ("state:running tag:prod", ["web1", "db1"]),
        ("state:running tag:prod host:hv2", ["db1"]),
        ("state:paused, tag:ci", ["web2", "Build-CI"]),
        ("state:paused,tag:ci", ["web2", "Build-CI"]),
        ("web host:hv1, db", ["web1", "db1"]),
        ("tag:web cpu>50, state:crashed", ["web1", "my vm"]),
        # negation
        ("-tag:prod", ["web2", "Build-CI", "my vm"]),
        ("!state:running web", ["web2"]),
    ],
)
def test_query_matches(query: str, expected: list[str]) -> None:
    assert names(query) == expected


@pytest.mark.parametrize(
    ("query", "column", "says"),
    [
        ("state:sleeping", 1, "'sleeping' is not a state"),
        ("web colour:red", 5, "'colour' is not something to filter on"),
        ("cpu>lots", 1, "'lots' is not a number"),
        ("cpu>", 1, "there is no value after '>'"),
        ("mem>2X", 1, "'X' is not a unit"),
        ("mem>big", 1, "'big' is not a size"),
        ("name~[unclosed", 1, "the regular expression is not valid"),
        ("tag~db", 1, "only names take a regular expression"),
        ("tag:", 1, "'tag:' needs a value"),
        ("autostart:maybe", 1, "'maybe' is not yes or no"),
        ("web,", 4, "nothing on one side of the ','"),
        (",web", 1, "nothing on one side of the ','"),
        ("a,,b", 3, "nothing on one side of the ','"),
        ('"my vm', 1, "is never closed"),
        (">50", 1, "a comparison needs a field"),
        ("web -state:nap", 6, "'nap' is not a state"),
    ],
)
def test_malformed_queries_say_where_and_why(query: str, column: int, says: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert says in info.value.message
    assert f"column {column}" in info.value.message
    assert info.value.position == column - 1


@pytest.mark.parametrize(
    ("text", "kib"),
    [("1G", GIB), ("512M", 512 * 1024), ("2048", 2 * GIB), ("1.5g", 1.5 * GIB), ("4k", 4)],
)
def test_sizes_are_binary(text: str, kib: float) -> None:
    assert parse_size_kib(text) == kib


def test_a_thousand_leading_negations_are_no_recursion_error() -> None:
    """Issue 14 #11: 1,200 leading '-' recursed once per character (RecursionError)."""
    web, db = Subject("u1", "web", "running"), Subject("u2", "db", "running")
    even = parse("-" * 1200 + "web")
    odd = parse("!" * 1201 + "web")
    assert even(web) and not even(db)
    assert not odd(web) and odd(db)
    assert not parse("-" * 5 + "-")(Subject("u3", "a-b", "running"))


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(a*)*b", r"(\w+\s?)+$", r"(a|aa)+$", r"(x+x+)+y", r".*.*.*x", r"(a)(?:\1)+"],
)
def test_regexes_that_can_blow_up_are_refused_with_a_sentence(pattern: str) -> None:
    """Issue 14 #9: nested quantifiers took time exponential in the name (UI frozen)."""
    with pytest.raises(QueryError) as info:
        parse("name~" + pattern)
    assert "long name" in info.value.message


def test_bounded_regexes_still_work_and_long_names_stay_fast() -> None:
    pred = parse(r"name~^web[0-9]+$")
    assert pred(Subject("u", "web12", "running")) and not pred(Subject("u", "web1x", "running"))
    assert parse(r"name~(a|b)*c")(Subject("u", "abc", "running"))
    hostile = Subject("u", "a" * 5000 + "!", "running")
    # the worst allowed pattern over the longest searched prefix (256 chars): ~16 ms measured
    assert not parse(r"name~.*.*x")(hostile)
    with pytest.raises(QueryError):
        parse("name~" + "a" * 201)

"""The : command line (vmtui/commandline.py): parsing, targets and completion, table-driven."""

from __future__ import annotations

import pytest

from vmtui.core.commandline import Command, CommandError, complete, parse, parse_cpulist, resolve
from vmtui.core.query import Subject
from vmtui.core.tagtext import TagEdit

GUESTS = [
    Subject("1", "web1", "running", active=True, tags=("web",), host="hv1"),
    Subject("2", "web2", "shut off", tags=("web", "ci"), host="hv2"),
    Subject("3", "db1", "running", active=True, tags=("db",), host="hv2"),
    Subject("4", "Build", "running", active=True, tags=("ci",), host="hv1"),
]


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("start web*", Command("start", names=("web*",))),
        (":start web*", Command("start", names=("web*",))),
        ("  :start   web1 db1 ", Command("start", names=("web1", "db1"))),
        ("shutdown tag:ci", Command("shutdown", terms="tag:ci")),
        ("shutdown web* state:running", Command("shutdown", ("web*",), "state:running")),
        ("force-off db1", Command("force_off", names=("db1",))),
        ("destroy db1", Command("force_off", names=("db1",))),
        ("pause", Command("pause")),  # no target: the marked set / the current guest
        ("resume -tag:db", Command("resume", terms="-tag:db")),
        ("reboot cpu>50", Command("reboot", terms="cpu>50")),
        ("vcpus db1 4", Command("vcpus", names=("db1",), count=4)),
        ("vcpus 2", Command("vcpus", count=2)),
        ("pin db1 0-3", Command("pin", ("db1",), cpus=(0, 1, 2, 3), cpulist="0-3")),
        ("pin db1 0,2,5-6", Command("pin", ("db1",), cpus=(0, 2, 5, 6), cpulist="0,2,5-6")),
        ("snapshot web* nightly", Command("snapshot", names=("web*",), snapshot="nightly")),
        ("snapshot nightly", Command("snapshot", snapshot="nightly")),
        (
            "tag web* +db -old",
            Command("tag", names=("web*",), edit=TagEdit(add=("db",), remove=("old",))),
        ),
        ("tag tag:ci -ci", Command("tag", terms="tag:ci", edit=TagEdit(remove=("ci",)))),
        ("delete web2", Command("delete", names=("web2",))),
        ("mark tag:db", Command("mark", terms="tag:db")),
        ("unmark", Command("unmark")),
        ("q", Command("quit")),
        ("help", Command("help")),
        ("?", Command("help")),
        ("quit", Command("quit")),
        ("START web1", Command("start", names=("web1",))),
    ],
)
def test_parse(line: str, command: Command) -> None:
    assert parse(line) == command


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("", "Type a command"),
        (":", "Type a command"),
        ("strat web1", "Unknown command ':strat'. Did you mean :start?"),
        ("frobnicate", "Unknown command ':frobnicate'."),
        ("vcpus db1", "'db1' is not a number of vCPUs"),
        ("vcpus", ":vcpus needs a number of vCPUs last"),
        ("vcpus db1 0", "A guest needs at least 1 vCPU; :vcpus needs a count of 1 or more."),
        ("pin db1 a-b", "'a-b' is not a list of host CPUs"),
        ("pin db1 3-1", "runs backwards"),
        ("pin", ":pin needs the host CPUs last"),
        ("snapshot", ":snapshot needs the snapshot's name last"),
        ("snapshot web* a/b", "cannot be a snapshot name"),
        ("snapshot web*", "cannot be a snapshot name"),  # the name comes last
        ("tag web*", ":tag needs +tag or -tag words"),
        ("q now", ":q takes no arguments"),
        ("unmark web1", ":unmark takes no arguments"),
        ("start state:nap", "'nap' is not a state"),
    ],
)
def test_parse_errors_are_sentences(line: str, says: str) -> None:
    with pytest.raises(CommandError) as info:
        parse(line)
    assert says in info.value.message
    assert info.value.message.endswith((".", "?"))


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("start web*", ["web1", "web2"]),
        ("start WEB*", ["web1", "web2"]),  # globs ignore case
        ("start db1 web2", ["web2", "db1"]),  # the table's order, not the typed one
        ("start build", ["Build"]),  # a name typed in another case still finds it
        ("shutdown tag:ci", ["web2", "Build"]),
        ("shutdown web* state:running", ["web1"]),
        ("shutdown tag:ci, tag:db", ["web2", "db1", "Build"]),
        ("start host:hv2", ["web2", "db1"]),
        ("tag * +x", ["web1", "web2", "db1", "Build"]),
    ],
)
def test_resolve(line: str, names: list[str]) -> None:
    assert [s.name for s in resolve(parse(line), GUESTS)] == names


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("start db2", "There is no guest called 'db2'. Did you mean db1?"),
        ("start zzz", "There is no guest called 'zzz'."),
        ("start x*", "No guest name matches 'x*'."),
        ("start db1 web*", None),
        ("shutdown tag:nothing", "No guest matches 'tag:nothing'."),
        ("shutdown db1 state:paused", "No guest matches 'db1 state:paused'."),
    ],
)
def test_resolve_errors(line: str, says: str | None) -> None:
    if says is None:
        assert resolve(parse(line), GUESTS)
        return
    with pytest.raises(CommandError) as info:
        resolve(parse(line), GUESTS)
    assert info.value.message == says


@pytest.mark.parametrize(
    ("value", "suggestion"),
    [
        ("sta", "start"),
        (":sh", ":shutdown"),
        ("fo", "force-off"),
        ("start w", "start web1"),
        ("start web1 d", "start web1 db1"),
        ("start B", "start Build"),
        ("shutdown tag:c", "shutdown tag:ci"),
        ("shutdown host:h", "shutdown host:hv1"),
        ("shutdown state:pa", "shutdown state:paused"),
        ("shutdown ta", "shutdown tag:"),
        ("tag web* +d", "tag web* +db"),
        ("tag web* -w", "tag web* -web"),
        ("start ", None),
        ("", None),
        ("start zz", None),
        ("start", None),  # already whole
    ],
)
def test_completion(value: str, suggestion: str | None) -> None:
    names = [s.name for s in GUESTS]
    tags = ["ci", "db", "web"]
    assert complete(value, names, tags, ["hv1", "hv2"]) == suggestion


def test_cpulist_merges_and_sorts() -> None:
    assert parse_cpulist("3,0-1,1") == (0, 1, 3)

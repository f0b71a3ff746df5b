"""``:exec`` parsing (core/commandline.py, issue 13): the command is kept as typed; target
words go before ``--``; without them the marked / selected guests are meant."""

from __future__ import annotations

import pytest

from vmtui.core.commandline import CommandError, help_lines, parse


def test_exec_without_targets_keeps_the_command_as_typed() -> None:
    cmd = parse(':exec echo "a  b" | wc -c')
    assert cmd.action == "exec" and cmd.shell == 'echo "a  b" | wc -c'
    assert not cmd.has_targets and cmd.mutating


def test_exec_with_names_and_query_terms_before_dashes() -> None:
    cmd = parse(":exec web* db1 tag:prod -- df -h /")
    assert cmd.names == ("web*", "db1") and cmd.terms == "tag:prod"
    assert cmd.shell == "df -h /"


def test_only_the_first_standalone_dashes_split() -> None:
    assert parse(":exec -- grep -- x f").shell == "grep -- x f"
    assert parse(":exec ls --color").shell == "ls --color"  # not a standalone --
    assert parse("run id").shell == "id"  # alias


@pytest.mark.parametrize("line", [":exec", ":exec   ", ":exec web --", ":exec --"])
def test_exec_needs_a_command(line: str) -> None:
    with pytest.raises(CommandError, match=":exec needs a command"):
        parse(line)


def test_exec_is_listed_in_help() -> None:
    assert any(line.startswith(":exec") for line in help_lines())

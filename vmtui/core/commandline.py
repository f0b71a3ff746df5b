"""The ``:`` command line: parsing, target resolution and completion (pure: no Textual, no
libvirt).

    :start web*                 globs on names (several words: any of them)
    :shutdown tag:ci            / query terms (all of them; see query.py)
    :shutdown web* state:running
    :force-off, :pause, :resume, :reboot, :delete   the same kind of targets
    :vcpus db1 4                the last word is the count
    :pin db1 0-3                pin every vCPU to host CPUs 0-3 (the last word: 0-3,6 ...)
    :snapshot web* nightly      the last word is the snapshot's name
    :tag web* +db -old          +tag adds, -tag removes
    :mark tag:db / :unmark      mark the matching guests on the dashboard / drop all marks
    :exec uptime                run a shell command in the marked (or selected) guests
    :exec web* tag:db -- df -h  ... or in the guests named before ``--`` (their agent runs it)
    :sandbox BASE [NAME] [net=NET]  a throwaway sandbox of a shut-off guest or a disk image
                                path (net=: one NIC on that isolated network, else none)
    :help                       list the commands
    :q                          quit

Without any target word a command acts on the marked guests, or else on the guest under the
cursor. Every mistake raises :class:`CommandError`, whose message is one sentence.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from vmtui.core import query
from vmtui.core.errors import Sentence
from vmtui.core.query import QueryError, Subject
from vmtui.core.tagtext import TagEdit, TagError, validate_tag


class CommandError(Sentence, ValueError):
    """A command line that cannot run; ``message`` says why."""


@dataclass(frozen=True)
class Spec:
    """One command: what it does, and what its last word must be (if anything)."""

    action: str
    help: str
    value: str = ""  # "count", "cpus", "snapshot", "" (none)
    targets: bool = True  # takes guest names / query terms


COMMANDS: dict[str, Spec] = {
    "start": Spec("start", "Start guests"),
    "shutdown": Spec("shutdown", "Ask guests to shut down"),
    "reboot": Spec("reboot", "Ask guests to reboot"),
    "force-off": Spec("force_off", "Cut guests' power (asks first)"),
    "pause": Spec("pause", "Freeze guests' vCPUs"),
    "resume": Spec("resume", "Let paused guests run again"),
    "delete": Spec("delete", "Delete guests, keeping every disk (asks first)"),
    "vcpus": Spec("vcpus", "Set the number of vCPUs (live and saved): :vcpus db1 4", "count"),
    "pin": Spec("pin", "Pin every vCPU to host CPUs: :pin db1 0-3", "cpus"),
    "snapshot": Spec("snapshot", "Take a snapshot: :snapshot web* nightly", "snapshot"),
    "tag": Spec("tag", "Add/remove tags: :tag web* +db -old", "tags"),
    "exec": Spec("exec", "Run a command through the guest agent: :exec web* -- uptime", "shell"),
    "mark": Spec("mark", "Mark guests on the dashboard: :mark tag:db"),
    "unmark": Spec("unmark", "Drop every mark", targets=False),
    "sandbox": Spec("sandbox", "Throwaway sandbox: :sandbox BASE [NAME] [net=ISOLATED-NET]"),
    "help": Spec("help", "List these commands", targets=False),
    "q": Spec("quit", "Quit vmtui", targets=False),
}
ALIASES = {
    "quit": "q",
    "destroy": "force-off",
    "forceoff": "force-off",
    "force_off": "force-off",
    "stop": "shutdown",
    "suspend": "pause",
    "unpause": "resume",
    "setvcpus": "vcpus",
    "snap": "snapshot",
    "tags": "tag",
    "undefine": "delete",
    "h": "help",
    "?": "help",
    "run": "exec",
}
MUTATING = {"start", "shutdown", "reboot", "force_off", "pause", "resume", "delete"}
MUTATING |= {"vcpus", "pin", "snapshot", "tag", "sandbox", "exec"}

_GLOB = re.compile(r"[*?\[]")
_QUERY_TERM = re.compile(
    r"^[-!]?(?:(?:name|state|tag|host|autostart):|name~|(?:cpu|mem|memory|vcpus?)\s*[<>=])",
    re.IGNORECASE,
)
_CPULIST = re.compile(r"^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$")
MAX_CPU = 4096


@dataclass(frozen=True)
class Command:
    action: str  # start, shutdown, ..., vcpus, pin, snapshot, tag, mark, unmark, quit
    names: tuple[str, ...] = ()  # guest names and globs (a guest matching any of them)
    terms: str = ""  # / query terms (a guest must match them)
    count: int = 0  # vcpus
    cpus: tuple[int, ...] = ()  # pin
    cpulist: str = ""
    snapshot: str = ""
    edit: TagEdit = field(default_factory=TagEdit)
    shell: str = ""  # exec: the command to run, as typed (spaces and quotes kept)
    new_name: str = ""  # sandbox: the sandbox's name ("" : chosen from the base's)
    network: str = ""  # sandbox: an isolated network for its one NIC ("" : no NIC)

    @property
    def has_targets(self) -> bool:
        return bool(self.names or self.terms)

    @property
    def mutating(self) -> bool:
        return self.action in MUTATING


def parse_cpulist(text: str) -> tuple[int, ...]:
    """``0-3,6`` -> (0, 1, 2, 3, 6); CommandError when malformed."""
    if not _CPULIST.match(text):
        raise CommandError(f"'{text}' is not a list of host CPUs; write e.g. 0-3 or 0,2,4-5.")
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        lo, hi = int(first), int(last or first)
        if hi < lo:
            raise CommandError(f"The CPU range '{part}' runs backwards; write {hi}-{lo}.")
        if hi >= MAX_CPU:
            raise CommandError(f"CPU {hi} is beyond any host; CPUs are numbered from 0.")
        cpus.update(range(lo, hi + 1))
    return tuple(sorted(cpus))


def lookup(word: str) -> tuple[str, Spec]:
    """The command a word names (aliases too), or CommandError suggesting the closest."""
    low = word.lower()
    name = ALIASES.get(low, low)
    spec = COMMANDS.get(name)
    if spec is not None:
        return name, spec
    close = difflib.get_close_matches(low, [*COMMANDS, *ALIASES], n=1)
    hint = f" Did you mean :{ALIASES.get(close[0], close[0])}?" if close else ""
    raise CommandError(f"Unknown command ':{word}'.{hint} Commands: {', '.join(COMMANDS)}.")


def parse(text: str) -> Command:
    """Parse a command line (with or without its leading ``:``)."""
    words = text.strip().removeprefix(":").split()
    if not words:
        raise CommandError(f"Type a command: {', '.join(COMMANDS)}.")
    name, spec = lookup(words[0])
    args = words[1:]
    if spec.action == "sandbox":  # a guest's name or an image's path, maybe a name, net=NET
        nets = [w.removeprefix("net=") for w in args if w.startswith("net=")]
        args = [w for w in args if not w.startswith("net=")]
        if len(args) > 2 or len(nets) > 1 or "" in nets:
            raise CommandError(
                ":sandbox takes a base (a guest or an image path), a name and net=NETWORK."
            )
        new_name = args[1] if len(args) > 1 else ""
        return Command("sandbox", tuple(args[:1]), new_name=new_name, network="".join(nets))
    shell = ""
    if spec.value == "shell":  # :exec [targets --] command
        args, shell = _split_shell(text)
    if not spec.targets:
        if args:
            raise CommandError(f":{name} takes no arguments.")
        return Command(spec.action)
    extra: dict[str, object] = {}
    if spec.value == "tags":
        edits = [w for w in args if w[0] in "+-" and _is_tag(w[1:])]
        args = [w for w in args if w not in edits]
        if not edits:
            raise CommandError(":tag needs +tag or -tag words, e.g. :tag web* +db -old.")
        extra["edit"] = TagEdit(
            add=tuple(w[1:] for w in edits if w[0] == "+"),
            remove=tuple(w[1:] for w in edits if w[0] == "-"),
        )
    elif spec.value and spec.value != "shell":
        if not args:
            raise CommandError(f":{name} needs {_VALUE_HELP[spec.value]}.")
        value, args = args[-1], args[:-1]
        extra.update(_value(name, spec.value, value))
    names = tuple(w for w in args if not _QUERY_TERM.match(w))
    terms = " ".join(w for w in args if _QUERY_TERM.match(w))
    if terms:
        try:
            query.parse(terms)
        except QueryError as err:
            raise CommandError(err.message) from None
    return Command(spec.action, names, terms, shell=shell, **extra)  # type: ignore[arg-type]


_VALUE_HELP = {
    "count": "a number of vCPUs last, e.g. :vcpus db1 4",
    "cpus": "the host CPUs last, e.g. :pin db1 0-3",
    "snapshot": "the snapshot's name last, e.g. :snapshot web* nightly",
}


_DASHES = re.compile(r"(?:^|\s)--(?:\s|$)")


def _split_shell(text: str) -> tuple[list[str], str]:
    """``:exec [targets --] command``: the target words and the command as typed."""
    rest = text.strip().removeprefix(":").lstrip()
    parts = rest.split(None, 1)
    rest = parts[1] if len(parts) > 1 else ""
    targets: list[str] = []
    dashes = _DASHES.search(rest)
    if dashes:
        targets = rest[: dashes.start()].split()
        rest = rest[dashes.end() :]
    if not rest.strip():
        raise CommandError(
            ":exec needs a command, e.g. :exec uptime (marked guests) or :exec web* -- uptime."
        )
    return targets, rest.strip()


def _is_tag(word: str) -> bool:
    try:
        validate_tag(word)
    except TagError:
        return False
    return True


def _value(name: str, kind: str, value: str) -> dict[str, object]:
    if kind == "count":
        if value.isdigit() and int(value) < 1:
            raise CommandError(
                f"A guest needs at least 1 vCPU; :{name} needs a count of 1 or more."
            )
        if not value.isdigit():
            raise CommandError(
                f"'{value}' is not a number of vCPUs; :{name} needs {_VALUE_HELP[kind]}."
            )
        return {"count": int(value)}
    if kind == "cpus":
        return {"cpus": parse_cpulist(value), "cpulist": value}
    # snapshot
    if "/" in value or value.startswith(".") or len(value) > 64 or _GLOB.search(value):
        raise CommandError(
            f"'{value}' cannot be a snapshot name (no '/', '*', '?', '[', no leading '.', "
            "at most 64 characters); it goes last, e.g. :snapshot web* nightly."
        )
    return {"snapshot": value}


def resolve(command: Command, subjects: Sequence[Subject]) -> list[Subject]:
    """The guests a command names, in the given order; CommandError when a name or glob
    matches no guest, or nothing is left after the query terms."""
    chosen: list[Subject] = list(subjects)
    if command.names:
        hits: set[str] = set()
        for word in command.names:
            if _GLOB.search(word):
                found = [s for s in subjects if fnmatch.fnmatchcase(s.name.lower(), word.lower())]
                if not found:
                    raise CommandError(f"No guest name matches '{word}'.")
            else:
                found = [s for s in subjects if s.name == word] or [
                    s for s in subjects if s.name.lower() == word.lower()
                ]
                if not found:
                    close = difflib.get_close_matches(word, [s.name for s in subjects], n=1)
                    hint = f" Did you mean {close[0]}?" if close else ""
                    raise CommandError(f"There is no guest called '{word}'.{hint}")
            hits.update(s.uuid for s in found)
        chosen = [s for s in subjects if s.uuid in hits]
    if command.terms:
        pred = query.parse(command.terms)
        chosen = [s for s in chosen if pred(s)]
    if not chosen:
        what = " ".join([*command.names, command.terms]).strip()
        raise CommandError(f"No guest matches '{what}'.")
    return chosen


# ----------------------------------------------------------------- completion
QUERY_KEYS = ("tag:", "state:", "host:", "autostart:", "name~")


def complete(
    value: str,
    names: Iterable[str],
    tags: Iterable[str] = (),
    hosts: Iterable[str] = (),
) -> str | None:
    """The whole line completed at its last word (None when nothing fits): commands first,
    then guest names, ``tag:``/``host:``/``state:`` values and ``+tag``/``-tag`` edits."""
    if not value or value.endswith(" "):
        return None
    head, _, last = value.rpartition(" ")
    prefix = head + " " if head else ""
    colon = ""
    if not head and last.startswith(":"):
        colon, last = ":", last[1:]
    if not head:
        candidates: Iterable[str] = [*COMMANDS, *(a for a in ALIASES if a not in COMMANDS)]
        return _first(prefix + colon, last, candidates)
    low = last.lower()
    for key, values in (
        ("tag:", tags),
        ("host:", hosts),
        ("state:", query.STATE_WORDS),
        ("autostart:", ("yes", "no")),
    ):
        if low.startswith(key):
            return _first(prefix + last[: len(key)], last[len(key) :], values)
    if last[:1] in "+-" and head.split()[0].lstrip(":").lower() in ("tag", "tags"):
        return _first(prefix + last[0], last[1:], tags)
    return _first(prefix, last, [*sorted(names, key=str.lower), *QUERY_KEYS])


def _first(prefix: str, typed: str, candidates: Iterable[str]) -> str | None:
    if not typed:
        return None
    low = typed.lower()
    for cand in candidates:
        if cand.lower().startswith(low) and cand != typed:
            return prefix + typed + cand[len(typed) :]
    return None


def help_lines() -> list[str]:
    """One line per command (for :help)."""
    return [f":{name:<9} {spec.help}" for name, spec in COMMANDS.items()]

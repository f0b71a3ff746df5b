"""The ``/`` query language: pure parsing and matching (no Textual, no libvirt).

A query is a list of *alternatives* separated by ``,``; each alternative is a list of
*terms* separated by spaces. A guest matches when it matches every term of at least one
alternative: ``,`` (OR) binds looser than a space (AND), so ``state:running tag:db, web``
means "(running AND tagged db) OR named like web".

Terms:

* ``web``            the name contains "web" (case-insensitive); ``"my vm"`` quotes spaces
* ``name:web``       the same, spelled out; ``name~^web[0-9]+$`` a regular expression
* ``state:running``  running, paused, shutoff (off, stopped), crashed, suspended, blocked,
                     stopping, unknown, and active / inactive
* ``tag:db``         carries the tag (case-insensitive; ``*`` and ``?`` are wildcards)
* ``host:hv2``       lives on the host with that label (or whose URI contains it)
* ``autostart:yes``  yes/no (also true/false, on/off)
* ``ip:10.0.``       has an address starting so (IPv4 or IPv6), or inside a network
                     written with its prefix (``ip:192.0.2.0/24``)
* ``cpu>50``         CPU % of the host; ``mem>2G`` memory (K, M, G, T; binary; a bare
                     number is MiB); ``vcpus>=4``. Operators: ``>``, ``>=``, ``<``, ``<=``, ``=``
* ``-term`` or ``!term``  the opposite of the term

A malformed query raises :class:`QueryError`, whose message is one sentence naming the
column and the term that is wrong.
"""

from __future__ import annotations

import fnmatch
import importlib
import ipaddress
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vmtui.core import units
from vmtui.core.errors import Sentence

# The standard library's own regex parser (re._parser: private, no stubs; sre_parse warns).
_sre_parser: Any = importlib.import_module("re._parser")


class QueryError(Sentence, ValueError):
    """A query that cannot be understood; ``message`` says where and why."""

    def __init__(self, message: str, position: int = 0, term: str = "") -> None:
        super().__init__(message)
        self.position = position  # 0-based offset of the term in the query
        self.term = term


@dataclass(frozen=True, slots=True)  # one per guest, kept by the dashboard (issue 12)
class Subject:
    """What a query can look at for one guest (built by the UI from GuestInfo + stats)."""

    uuid: str
    name: str
    state: str  # a GuestState label: running, paused, shut off ...
    active: bool = False
    tags: tuple[str, ...] = ()
    host: str = ""  # the host's label (hostname)
    uri: str = ""
    cpu: float | None = None  # % of the host
    mem_kib: int | None = None
    vcpus: int = 0
    autostart: bool = False
    addresses: tuple[str, ...] = ()  # IP addresses without prefix length (addresses.py)


Predicate = Callable[[Subject], bool]

# state words a person types -> the labels GuestState uses
STATES: dict[str, str] = {
    "running": "running",
    "run": "running",
    "up": "running",
    "blocked": "blocked",
    "paused": "paused",
    "pause": "paused",
    "stopping": "stopping",
    "shutoff": "shut off",
    "shut-off": "shut off",
    "off": "shut off",
    "stopped": "shut off",
    "down": "shut off",
    "crashed": "crashed",
    "suspended": "suspended",
    "pmsuspended": "suspended",
    "unknown": "unknown",
}
STATE_WORDS: tuple[str, ...] = ("running", "paused", "shutoff", "crashed", "suspended")
STATE_WORDS += ("blocked", "stopping", "active", "inactive")

YES = {"yes": True, "y": True, "true": True, "on": True, "1": True}
YES |= {"no": False, "n": False, "false": False, "off": False, "0": False}

FIELDS = ("name", "state", "tag", "host", "autostart", "ip")
NUMERIC = ("cpu", "mem", "vcpus")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
    "==": operator.eq,
}
_NUMERIC_TERM = re.compile(r"^(cpu|mem|memory|vcpus?)\s*(>=|<=|==|>|<|=)\s*(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Token:
    text: str
    position: int  # 0-based offset in the query
    quoted: bool = False


def tokenize(query: str) -> list[list[Token]]:
    """Split into alternatives (``,``) of terms (spaces); double quotes keep both inside."""
    groups: list[list[Token]] = [[]]
    commas: list[int] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == ",":
            commas.append(i)
            groups.append([])
            i += 1
            continue
        start = i
        text: list[str] = []
        quoted = False
        while i < n and not query[i].isspace() and query[i] != ",":
            if query[i] == '"':
                end = query.find('"', i + 1)
                if end < 0:
                    raise QueryError(
                        f'The quote at column {i + 1} is never closed; add a closing ".',
                        i,
                        query[start:],
                    )
                text.append(query[i + 1 : end])
                quoted = True
                i = end + 1
            else:
                text.append(query[i])
                i += 1
        groups[-1].append(Token("".join(text), start, quoted))
    if len(groups) > 1:
        for k, group in enumerate(groups):
            if not group:
                at = commas[k] if k < len(commas) else commas[k - 1]
                raise QueryError(
                    f"There is nothing on one side of the ',' at column {at + 1}; "
                    "write a term on both sides (',' means OR).",
                    at,
                    ",",
                )
    return groups


def _bad(token: Token, why: str) -> QueryError:
    return QueryError(
        f"Term '{token.text}' at column {token.position + 1}: {why}", token.position, token.text
    )


def parse_size_kib(text: str) -> float:
    """``2G`` -> KiB (binary units; a bare number is MiB). ValueError with a reason."""
    try:
        return units.parse_size(text, "M") / units.KIB
    except units.SizeError as err:
        if err.unit is None:
            raise ValueError(f"'{text}' is not a size; write e.g. 512M or 2G.") from None
        raise ValueError(f"'{err.unit}' is not a unit; use K, M, G or T.") from None


def _numeric(token: Token, m: re.Match[str]) -> Predicate:
    what, op_text, value = m.group(1).lower(), m.group(2), m.group(3)
    op = _OPS[op_text]
    if not value:
        raise _bad(token, f"there is no value after '{op_text}'; write e.g. {what}{op_text}50.")
    if what.startswith("mem"):
        try:
            limit = parse_size_kib(value)
        except ValueError as err:
            raise _bad(token, str(err)) from None

        def mem(s: Subject) -> bool:
            return s.mem_kib is not None and op(s.mem_kib, limit)

        return mem
    try:
        number = float(value.rstrip("%"))
    except ValueError:
        raise _bad(token, f"'{value}' is not a number; write e.g. {what}{op_text}50.") from None
    if what == "cpu":

        def cpu(s: Subject) -> bool:
            return s.cpu is not None and op(s.cpu, number)

        return cpu

    def vcpus(s: Subject) -> bool:
        return op(s.vcpus, number)

    return vcpus


# ``name~`` runs on the UI thread on every key and every poll, and Python's ``re`` has no time
# limit: a pattern is refused when its cost can blow up (benchmarks/README.md, "Regex guard").
# Nested repeats (``(a+)+``) or an alternation under a repeat (``(a|ab)*``) take time
# exponential in the name's length; each repeat in sequence multiplies it by the length (four
# ``.*`` over a 200-character name: 3.6 s). So: no nesting, no alternation or back-reference
# under a repeat, at most two repeats, a pattern of at most 200 characters, and only the first
# 256 characters of a name are searched (worst case measured: 16 ms per name).
REGEX_MAX_REPEATS = 2
REGEX_MAX_LENGTH = 200
REGEX_SUBJECT = 256
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


def _regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` could take too long on a hostile name (None when it is bounded)."""
    if len(pattern) > REGEX_MAX_LENGTH:
        return f"the regular expression is longer than {REGEX_MAX_LENGTH} characters."
    try:
        tree = _sre_parser.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError):
        return None  # re.compile says why
    repeats = 0
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        node, under_repeat = stack.pop()
        for op, av in node:
            name = str(op)
            if name in _REPEATS:
                _lo, hi, sub = av
                if hi > 1:
                    if under_repeat:
                        return (
                            "it nests one repeat inside another (like (a+)+), which can take "
                            "minutes on a long name; write it without the nesting."
                        )
                    repeats += 1
                    if repeats > REGEX_MAX_REPEATS:
                        return (
                            f"it has more than {REGEX_MAX_REPEATS} repeats (*, +, {{n,m}}), "
                            "which can take seconds on a long name; use fewer."
                        )
                stack.append((sub, under_repeat or hi > 1))
                continue
            if under_repeat and name in ("BRANCH", "GROUPREF", "GROUPREF_EXISTS"):
                return (
                    "it repeats an alternation or a back-reference (like (a|ab)*), which can "
                    "take minutes on a long name; write it without the repeat."
                )
            stack.extend((child, under_repeat) for child in _subpatterns(av))
    return None


def _subpatterns(av: Any) -> list[Any]:
    """The sub-patterns inside one parsed node's argument (any nesting of tuples/lists)."""
    if isinstance(av, _sre_parser.SubPattern):
        return [av]
    if isinstance(av, (tuple, list)):
        return [sub for item in av for sub in _subpatterns(item)]
    return []


def compile_name_regex(token: Token, pattern: str) -> re.Pattern[str]:
    """The ``name~`` pattern compiled, or a QueryError saying why it is refused."""
    why = _regex_problem(pattern)
    if why is not None:
        raise _bad(token, why)
    try:
        return re.compile(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as err:
        raise _bad(token, f"the regular expression is not valid ({err}).") from None


def _field(token: Token, key: str, value: str, sep: str) -> Predicate:
    key = key.lower()
    if sep == "~":
        if key != "name":
            raise _bad(token, "only names take a regular expression (name~...).")
        regex = compile_name_regex(token, value)
        return lambda s: regex.search(s.name[:REGEX_SUBJECT]) is not None
    if key not in FIELDS:
        known = ", ".join(f"{f}:" for f in FIELDS)
        raise _bad(token, f"'{key}' is not something to filter on; use {known} or name~.")
    if not value:
        raise _bad(token, f"'{key}:' needs a value, e.g. {_EXAMPLES[key]}.")
    low = value.lower()
    if key == "name":
        return lambda s: low in s.name.lower()
    if key == "state":
        if low == "active":
            return lambda s: s.active
        if low == "inactive":
            return lambda s: not s.active
        label = STATES.get(low)
        if label is None:
            raise _bad(token, f"'{value}' is not a state; use one of {', '.join(STATE_WORDS)}.")
        return lambda s: s.state == label
    if key == "tag":
        if any(c in low for c in "*?["):
            return lambda s: any(fnmatch.fnmatchcase(t.lower(), low) for t in s.tags)
        return lambda s: any(t.lower() == low for t in s.tags)
    if key == "host":
        return lambda s: s.host.lower() == low or low in s.uri.lower()
    if key == "ip":
        return _ip(token, low)
    # autostart
    flag = YES.get(low)
    if flag is None:
        raise _bad(token, f"'{value}' is not yes or no.")
    return lambda s: s.autostart == flag


def _ip(token: Token, low: str) -> Predicate:
    """``ip:10.0.`` (an address starts so) or ``ip:192.0.2.0/24`` (an address inside)."""
    if "/" not in low:
        return lambda s: any(a.lower().startswith(low) for a in s.addresses)
    try:
        network = ipaddress.ip_network(low, strict=False)
    except ValueError:
        raise _bad(token, f"'{low}' is not a network; write e.g. ip:192.0.2.0/24.") from None

    def inside(s: Subject) -> bool:
        for a in s.addresses:
            try:
                if ipaddress.ip_address(a) in network:
                    return True
            except ValueError:
                continue
        return False

    return inside


_EXAMPLES = {
    "name": "name:web",
    "state": "state:running",
    "tag": "tag:db",
    "host": "host:hv2",
    "autostart": "autostart:yes",
    "ip": "ip:10.0.",
}
_FIELD_TERM = re.compile(r"^([A-Za-z]+)([:~])(.*)$", re.DOTALL)


def parse_term(token: Token) -> Predicate:
    """One term as a predicate (QueryError when it makes no sense)."""
    text = token.text
    if not token.quoted and len(text) > 1 and text[0] in "-!":
        # count the negations in a loop (a term of 1,200 of them must not recurse 1,200 deep)
        count = 0
        while len(text) - count > 1 and text[count] in "-!":
            count += 1
        inner = parse_term(Token(text[count:], token.position + count))
        if count % 2 == 0:
            return inner
        return lambda s: not inner(s)
    if not token.quoted:
        m = _NUMERIC_TERM.match(text)
        if m:
            return _numeric(token, m)
        m = _FIELD_TERM.match(text)
        if m:
            return _field(token, m.group(1), m.group(3), m.group(2))
        if text[:1] in "<>=" or text.lower() in NUMERIC:
            raise _bad(token, "a comparison needs a field and a value, e.g. cpu>50 or mem>2G.")
    low = text.lower()
    return lambda s: low in s.name.lower()


def parse(query: str) -> Predicate:
    """The predicate a query stands for; an empty query matches everything."""
    groups = [[parse_term(t) for t in group] for group in tokenize(query)]
    groups = [g for g in groups if g]
    if not groups:
        return lambda s: True

    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0][0]

    def predicate(s: Subject) -> bool:
        # plain loops: generators cost more than the terms themselves (1,000 guests a tick)
        for group in groups:
            for term in group:
                if not term(s):
                    break
            else:
                return True
        return False

    return predicate


def select(query: str, subjects: Sequence[Subject]) -> list[Subject]:
    """The subjects a query matches, in the given order."""
    pred = parse(query)
    return [s for s in subjects if pred(s)]

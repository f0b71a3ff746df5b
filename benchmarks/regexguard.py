"""The `name~` regex guard (issue 14 #9): what a refused pattern would cost, what an allowed
one costs at worst, on one hostile name and on a dashboard of 1,000 guests.

    python -m benchmarks.regexguard

A `/` query runs on the UI thread on every key and every poll, with Python's `re` (no time
limit). Printed: seconds for one search with raw `re` (the patterns the guard refuses, on a
name of 24 'a' and a '!'), then with the guard's predicate (the worst patterns it allows, on
a 5,000-character hostile name, of which it searches 256), and one filter pass over 1,000
ordinary names. Medians of 5.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable

from vmtui.core import query


def _median(run: Callable[[], object], times: int = 5) -> float:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        spent.append(time.perf_counter() - start)
    return statistics.median(spent)


def main() -> None:
    short = "a" * 24 + "!"
    print("refused by the guard, raw re on a 25-character name:")
    for pattern in (r"(a+)+$", r"(a|a)*$", r"(\w+\s?)+$"):
        regex = re.compile(pattern, re.IGNORECASE)
        print(f"  {pattern:14} {_median(lambda r=regex: r.search(short), 1):8.3f} s")
    long_name = "a" * 256 + "!"
    for pattern in (r".*.*.*x", r"a.*a.*a.*x"):
        regex = re.compile(pattern, re.IGNORECASE)
        spent = _median(lambda r=regex: r.search(long_name), 1)
        print(f"  {pattern:14} {spent:8.3f} s (256 characters)")
    hostile = query.Subject("u", "a" * 5000 + "!", "running")
    print("allowed, through the guard, on a 5,001-character name:")
    for pattern in (r".*.*x", r"a.*a+x", r"^(web|db)[0-9]+$"):
        pred = query.parse("name~" + pattern)
        print(f"  {pattern:14} {_median(lambda p=pred: p(hostile)) * 1000:8.2f} ms")
    subjects = [query.Subject(f"u{i}", f"web-{i:04d}.example", "running") for i in range(1000)]
    pred = query.parse(r"name~^web-0[0-9]+\.ex.*e$")
    spent = _median(lambda: [s for s in subjects if pred(s)])
    print(f"1,000 ordinary names, one filter pass: {spent * 1000:.2f} ms")


if __name__ == "__main__":
    main()

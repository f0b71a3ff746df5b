"""The allocation screen shows a cpuset it cannot fully read as written, not as "any"
(issue 15): a guest pinned to CPUs this host lacks is pinned, not free to run anywhere."""

from __future__ import annotations

from vmtui.backend.allocation import parse_allocation
from vmtui.screens.allocation import side_text

DOMAIN = """<domain><name>g</name><memory>1048576</memory>
  <vcpu placement='static' cpuset='0-63,^5'>3</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='1' cpuset='12-15'/></cputune>
</domain>"""


def test_a_cpuset_naming_cpus_the_host_lacks_is_kept_as_written() -> None:
    alloc = parse_allocation(DOMAIN, 4)  # a 4-CPU host: 12-15 and 0-63 do not fit
    assert alloc.pins == {0: (1,)}
    assert alloc.pin_text == {1: "12-15", 2: "0-63,^5"}
    assert side_text(alloc, "pin-0") == "1"
    assert side_text(alloc, "pin-1") == "12-15"
    assert side_text(alloc, "pin-2") == "0-63,^5"


def test_an_unpinned_vcpu_still_runs_anywhere() -> None:
    alloc = parse_allocation("<domain><name>g</name><vcpu>2</vcpu></domain>", 4)
    assert side_text(alloc, "pin-1") == "any"

"""Issue 16 #15: sentences a first-time user read, said plainly."""

from __future__ import annotations

import pytest

from vmtui.backend.devices import InvalidInput
from vmtui.backend.eventwords import detail_words
from vmtui.backend.spec import parse_mib
from vmtui.core.actions import delete_line


def test_an_empty_size_asks_for_one_instead_of_calling_nothing_a_size() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_mib("  ", "Memory")
    assert caught.value.message == "Memory: give a size, like 512M or 2G."


def test_lifecycle_details_are_words_not_numbers() -> None:
    assert detail_words(5, 1) == "forced off"  # stopped, destroyed
    assert detail_words(5, 6) == "a snapshot was restored"
    assert detail_words(2, 0) == "booted"
    assert detail_words(99, 0) == ""  # unknown: nothing rather than a number


def test_deleting_a_running_guest_is_logged_with_its_force_off() -> None:
    line = delete_line("qemu:///system", "web", ["/v/web.qcow2"], running=True)
    assert line.startswith("virsh -c qemu:///system destroy web && virsh -c qemu:///system ")
    assert "undefine web" in line and "--storage /v/web.qcow2" in line
    assert "destroy" not in delete_line("qemu:///system", "web", [], running=False)

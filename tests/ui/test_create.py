"""The new-guest wizard (n), driven with Pilot against libvirt's test driver."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select

from tests.conftest import host_uri
from tests.ui.helpers import click, ready, wait_for
from vmtui.app import VmtuiApp
from vmtui.core.format import short_uri
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.create import CreateScreen
from vmtui.screens.dashboard import DashboardScreen

SIZE = (100, 40)


def make_app(**kwargs: Any) -> VmtuiApp:
    return VmtuiApp(host_uri("small_host"), interval=0.2, **kwargs)


def wizard(app: VmtuiApp) -> CreateScreen:
    screen = app.screen
    assert isinstance(screen, CreateScreen), type(screen)
    return screen


async def type_into(pilot: Pilot[None], field: str, text: str) -> None:
    """Focus a field and type into it key by key, as a user would (after clearing it)."""
    screen = wizard(pilot.app)  # type: ignore[arg-type]
    box = screen.query_one(f"#{field}", Input)
    box.focus()
    await pilot.press("ctrl+u", "end", "ctrl+k")
    for ch in text:
        await pilot.press(ch)
    assert box.value == text


def choose(app: VmtuiApp, field: str, value: str) -> None:
    wizard(app).query_one(f"#{field}", Select).value = value


async def open_wizard(pilot: Pilot[None]) -> CreateScreen:
    app = await ready(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, CreateScreen))
    screen = wizard(app)
    await wait_for(pilot, lambda: screen.choices is not None)
    return screen


async def test_kernel_boot_guest_through_every_step_then_on_the_dashboard() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        assert screen.query_one("#domain-type", Select).value == "qemu"  # no KVM on test://
        facts = str(screen.query_one("#host-facts").render())
        assert facts.startswith("KVM on this host: not usable (qemu/TCG is the default) (")
        assert str(screen.query_one("#disk-pool-volumes").render()).startswith(
            "In pool: alpha.qcow2, beta.qcow2, install.iso"
        )
        await type_into(pilot, "name", "web-one")
        await type_into(pilot, "title", "web <&> 'one'")  # markup-like text round-trips
        await type_into(pilot, "memory", "256M")
        await pilot.press("ctrl+n")
        assert screen.error_text == ""
        choose(app, "install-kind", "kernel")
        await pilot.pause()
        await type_into(pilot, "kernel", "/boot/vmlinuz")
        await pilot.press("ctrl+n")  # disks: one new 1 GiB volume in the test pool
        await type_into(pilot, "disk-size", "1G")
        await click(pilot, "#add-disk")
        assert screen.disks and screen.disks[0].pool == "pool"
        await pilot.press("ctrl+n", "ctrl+n", "ctrl+n")  # network, shares, graphics
        await pilot.press("ctrl+n")  # review
        await wait_for(pilot, lambda: screen.spec is not None)
        xml = str(screen.query_one("#review-xml").render())
        command = str(screen.query_one("#review-command").render())
        assert "web &lt;&amp;&gt; 'one'" in xml
        assert "vol-create-as pool web-one.qcow2 1073741824B --format qcow2" in command
        assert "virt-install --connect test://" in command
        assert "--boot kernel=/boot/vmlinuz" in command
        await pilot.press("ctrl+n")  # create
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None and any(g.name == "web-one" for g in app.snapshot.guests)
            ),
        )
        guest = next(g for g in app.snapshot.guests if g.name == "web-one")  # type: ignore[union-attr]
        assert guest.is_active
        entry = next(e for e in app.activity if e.kind == "action")
        assert entry.ok and entry.text.startswith("virsh -c test://")
        assert "virt-install" in entry.text
        assert entry.outcome == "Created guest web-one and started it."


async def test_a_taken_name_is_refused_in_the_wizard_and_the_input_stays() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "alpha")
        await pilot.press("ctrl+n")
        assert screen.error_text == "A guest called alpha already exists on this host."
        assert screen.query_one("#name", Input).value == "alpha"
        assert screen.step == 0
        await type_into(pilot, "memory", "lots")
        await type_into(pilot, "name", "alpha2")
        await pilot.press("ctrl+n")
        assert screen.error_text == "Memory: lots is not a size like 512M or 2G."
        await pilot.press("escape")  # something was typed: leaving asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        assert app.screen is screen and screen.query_one("#name", Input).value == "alpha2"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_a_volume_name_clash_is_refused_in_the_wizard_before_anything_is_made() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "clash")
        await pilot.press("ctrl+n")
        choose(app, "install-kind", "kernel")
        await pilot.pause()
        await type_into(pilot, "kernel", "/boot/vmlinuz")
        await pilot.press("ctrl+n")
        # An existing volume of the pool under a new disk's name: refused, nothing touched.
        choose(app, "disk-kind", "new")
        await type_into(pilot, "disk-volume", "alpha.qcow2")
        await click(pilot, "#add-disk")
        await pilot.press("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+n")
        await wait_for(pilot, lambda: screen.spec is not None)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.error_text != "")
        assert (
            screen.error_text
            == "Pool pool already has a volume called alpha.qcow2; choose another name."
        )
        assert isinstance(app.screen, CreateScreen)
        assert screen.query_one("#name", Input).value == "clash"
        assert not any(g.name == "clash" for g in app.snapshot.guests)  # type: ignore[union-attr]
        entry = next(e for e in app.activity if e.kind == "action")
        assert not entry.ok and "alpha.qcow2" in entry.outcome


async def test_a_risky_shared_folder_asks_naming_the_risk() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "sharer")
        await pilot.press("ctrl+n")
        choose(app, "install-kind", "pxe")
        await pilot.pause()
        for _ in range(3):
            await pilot.press("ctrl+n")
        assert screen.step == 4 and screen.error_text == "", screen.error_text
        await type_into(pilot, "share-src", "/etc")
        await click(pilot, "#add-share")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = str(app.screen.query_one("#body").render())
        assert "the host's configuration, including passwords and keys" in body
        await pilot.press("n")
        assert screen.shares == []
        await click(pilot, "#add-share")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(screen.shares) == 1)
        assert screen.shares[0].source == "/etc" and screen.shares[0].readonly


async def test_read_only_sessions_have_no_new_guest_key() -> None:
    app = make_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_a_create_failing_midway_says_the_step_in_the_wizard_and_leaves_nothing() -> None:
    """The test driver cannot upload volumes: the cloud-init seed step fails after the checks."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "cloudy")
        await pilot.press("ctrl+n")
        choose(app, "install-kind", "cloud")
        await pilot.pause()
        assert screen.query_one("#seed-pool", Select).value == "pool"
        await type_into(pilot, "ci-hostname", "web")
        await type_into(pilot, "ci-user", "alice")
        await type_into(pilot, "ci-password", "pw")
        await pilot.press("ctrl+n")
        assert screen.error_text == ""
        choose(app, "disk-kind", "volume")
        await type_into(pilot, "disk-volume", "beta.qcow2")
        choose(app, "disk-format", "")
        await click(pilot, "#add-disk")
        await pilot.press("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+n")
        await wait_for(pilot, lambda: screen.spec is not None)
        xml = str(screen.query_one("#review-xml").render())
        assert 'volume="cloudy-cidata.iso"' in xml
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.error_text != "")
        assert screen.error_text.startswith(
            "Could not create guest cloudy: the step 'upload the cloud-init seed "
            "cloudy-cidata.iso' failed:"
        )
        assert screen.error_text.endswith("Nothing was left behind.")
        assert app.screen is screen and screen.query_one("#ci-user", Input).value == "alice"
        conn = app.hv.readable_conn()
        names = {v.name() for v in conn.storagePoolLookupByName("pool").listAllVolumes(0)}
        assert names == {"alpha.qcow2", "beta.qcow2", "install.iso", "shared.img"}
        assert "cloudy" not in {d.name() for d in conn.listAllDomains(0)}


async def test_with_two_hosts_the_wizard_asks_which_and_reads_that_hosts_pools() -> None:
    from vmtui.demo import DEMO_URI

    first = host_uri("small_host")
    app = VmtuiApp([first, DEMO_URI], interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        assert screen.choices is not None
        host = screen.query_one("#host", Select)
        start_uri = screen.uri
        assert host.value == start_uri and start_uri in (first, DEMO_URI)
        other = DEMO_URI if start_uri == first else first
        host.value = other
        await wait_for(pilot, lambda: screen.choices is not None and screen.choices.uri == other)
        title = str(screen.query_one("#create-title").render())
        assert title == f"Step 1/7: Basics · new guest on {short_uri(other)}"

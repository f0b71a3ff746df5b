"""E (export) and J (import) on the test driver (issue 17): the screens open, a failure is a
sentence on the screen, and nothing is left behind (the test driver cannot stream volumes:
the export fails after it started, and its partial file must be gone)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.archive import ExportScreen, ImportScreen


async def test_export_failure_is_a_sentence_and_leaves_no_file(tmp_path: Path) -> None:
    app = VmtuiApp(host_uri("sandbox_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        select(app, "sealed-box")  # running: refused with a sentence
        await pilot.press("E")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ExportScreen)
        select(app, "base")
        await pilot.press("E")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        box = screen.query_one("#archive-file")
        box.value = str(tmp_path / "base.tar")  # type: ignore[attr-defined]
        await pilot.click("#archive-go")
        err = screen.query_one("#archive-error")
        await wait_for(pilot, lambda: "not supported" in str(err.render()))
        assert list(tmp_path.iterdir()) == []  # no archive, no partial file
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen))


async def test_import_of_a_non_archive_says_so_and_makes_nothing(tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(b"not a tar" * 100)
    app = VmtuiApp(host_uri("sandbox_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        before = {g.uuid for g in app.snapshot.guests} if app.snapshot else set()
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen))
        screen = app.screen
        screen.query_one("#archive-file").value = str(tmp_path / "x.tar")  # type: ignore[attr-defined]
        await pilot.click("#archive-go")
        err = screen.query_one("#archive-error")
        await wait_for(pilot, lambda: "not a vmtui export archive" in str(err.render()))
        await pilot.pause(0.3)
        assert app.snapshot is not None
        assert {g.uuid for g in app.snapshot.guests} == before


async def test_import_of_an_ova_goes_to_the_ovf_importer(tmp_path: Path) -> None:
    """J with an OVA (here: a wrong .mf checksum) is read as an OVF, refused, nothing made."""
    import hashlib
    import io
    import tarfile

    ovf = (Path(__file__).parent.parent / "data" / "ovf" / "vbox-tiny.ovf").read_bytes()
    mf = f"SHA256(tiny.ovf)= {'0' * 64}\n".encode()
    assert hashlib.sha256(ovf).hexdigest() != "0" * 64
    path = tmp_path / "tiny.ova"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("tiny.ovf", ovf), ("tiny.mf", mf)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    app = VmtuiApp(host_uri("sandbox_host"), interval=0.2)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        before = {g.uuid for g in app.snapshot.guests} if app.snapshot else set()
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen))
        screen = app.screen
        screen.query_one("#archive-file").value = str(path)  # type: ignore[attr-defined]
        await pilot.click("#archive-go")
        err = screen.query_one("#archive-error")
        await wait_for(pilot, lambda: "SHA256 checksum" in str(err.render()))
        await pilot.pause(0.3)
        assert app.snapshot is not None
        assert {g.uuid for g in app.snapshot.guests} == before

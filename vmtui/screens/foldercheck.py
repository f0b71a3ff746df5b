"""A folder to share, checked inside the dialog that asks for it (issue 16): a problem is
said under its field and what was typed stays; a directory that does not exist yet can be
made there and then."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vmtui.backend.devices import (
    InvalidInput,
    MissingFolder,
    SharedFolderSpec,
    make_share_folder,
)
from vmtui.control.services import services
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.form import FormScreen


@dataclass(frozen=True)
class FolderProblem:
    """What is wrong with a folder to share: the sentence, the id of the field it is about,
    and the resolved directory when it only does not exist yet."""

    message: str
    field: str
    missing: Path | None = None


def folder_problem(spec: SharedFolderSpec) -> FolderProblem | None:
    """None when ``spec`` can be shared (a risky path is asked about later); blocking (it
    touches the file system): run it in a worker."""
    try:
        spec.validate(allow_risky=True)
    except MissingFolder as err:
        return FolderProblem(err.message, "path", err.path)
    except InvalidInput as err:
        field = "tag" if err.message.startswith("The mount tag") else "path"
        return FolderProblem(err.message, field)
    return None


def check_then_dismiss(form: FormScreen[SharedFolderSpec], spec: SharedFolderSpec) -> None:
    """Check ``spec`` in a worker; dismiss ``form`` with it when it can be shared, else say
    the problem under its field (``path`` / ``tag``) and, for a missing directory, offer to
    create it and then submit the form again."""
    form.say("")

    def checked(problem: FolderProblem | None) -> None:
        if not form.is_attached:
            return
        if problem is None:
            form.dismiss(spec)
            return
        form.say(problem.message, near=problem.field)
        missing = problem.missing
        if missing is not None:
            _offer_to_create(form, missing)

    services(form).runner.run(
        lambda: folder_problem(spec), done=checked, failed=form.say, what="check the folder"
    )


def _offer_to_create(form: FormScreen[SharedFolderSpec], missing: Path) -> None:
    def make() -> None:
        services(form).runner.run(
            lambda: make_share_folder(missing),
            done=lambda _path: form.submit(),
            failed=lambda error: form.say(error, near="path"),
            what=f"create {missing}",
            success=f"Created {missing}.",
        )

    ConfirmScreen(
        f"Create {missing}?",
        f"The host directory {missing} does not exist. Create it (and any missing folder "
        "above it) on this machine, then share it?",
        confirm="Create",
    ).ask(form.app, make)

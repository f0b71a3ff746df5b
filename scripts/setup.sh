#!/usr/bin/env bash
# Idempotent developer/CI set-up for vmtui.
#
#   * installs the Debian packages needed to build libvirt-python and to run
#     real QEMU guests (only when one is missing),
#   * creates .venv and installs the package in editable mode with the dev
#     extras (only when pyproject.toml is newer than .venv/.stamp),
#   * makes sure libvirtd answers on qemu:///system (scripts/ensure-libvirtd.sh).
#
# Re-running it when nothing is missing takes well under a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'setup: %s\n' "$*" >&2; }

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
else
    SUDO=(sudo)
fi

DEB_PACKAGES=(
    libvirt-daemon-system libvirt-dev libvirt-clients pkg-config
    qemu-system-x86 qemu-utils busybox-static cpio python3-venv tmux
    openssh-server openssh-client
    ovmf swtpm swtpm-tools e2fsprogs
)

# --- Debian packages ---------------------------------------------------------
missing=()
# One dpkg-query call for all packages; unknown packages print nothing useful
# and make dpkg-query exit non-zero, hence the `|| true`.
status="$(dpkg-query -W -f='${Package} ${Status}\n' "${DEB_PACKAGES[@]}" 2>/dev/null || true)"
for pkg in "${DEB_PACKAGES[@]}"; do
    if ! grep -qE "^${pkg} install ok installed\$" <<<"$status"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# --- Python virtualenv -------------------------------------------------------
PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    log "creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
if [[ ! -e .venv/.stamp || pyproject.toml -nt .venv/.stamp ]]; then
    log "installing vmtui (editable) with dev extras into .venv"
    .venv/bin/python -m pip install --disable-pip-version-check -q -e '.[dev]'
    touch .venv/.stamp
fi

# --- libvirtd -----------------------------------------------------------------
bash "$ROOT/scripts/ensure-libvirtd.sh"

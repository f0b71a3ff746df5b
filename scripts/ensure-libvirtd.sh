#!/usr/bin/env bash
# Make sure a system libvirtd (qemu:///system) is up and answering.
#
# There is no systemd on the dev/CI machines, so the daemons are started by
# hand in daemon mode.  Safe to run repeatedly: when virsh already answers this
# is a single quick `virsh uri`.  A pid file left behind by a killed libvirtd
# (/run/libvirtd.pid) is harmless: libvirtd only refuses to start when the file
# is *locked* by a live process, and a killed process holds no lock.
set -euo pipefail

URI="${VMTUI_LIBVIRT_URI:-qemu:///system}"
PATH="$PATH:/usr/sbin:/sbin"
PROBE_TIMEOUT="${VMTUI_LIBVIRTD_PROBE_TIMEOUT:-5}"
START_TIMEOUT="${VMTUI_LIBVIRTD_START_TIMEOUT:-20}"

log() { printf 'ensure-libvirtd: %s\n' "$*" >&2; }

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
else
    SUDO=(sudo -n)
fi

probe() {
    timeout --kill-after=2 "$PROBE_TIMEOUT" virsh -c "$URI" uri >/dev/null 2>&1
}

if ! command -v virsh >/dev/null 2>&1 || ! command -v libvirtd >/dev/null 2>&1; then
    log "virsh/libvirtd not installed; run scripts/setup.sh first"
    exit 2
fi

if probe; then
    exit 0
fi

# True when a live process holds the pid recorded in pid file $1.
pidfile_alive() {
    local pid
    [[ -r $1 ]] || return 1
    pid=$(<"$1") || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    "${SUDO[@]}" kill -0 "$pid" 2>/dev/null
}

libvirtd_alive() {
    pidfile_alive /run/libvirtd.pid || pgrep -x libvirtd >/dev/null 2>&1
}

start_daemons() {
    "${SUDO[@]}" mkdir -p /run/libvirt
    if ! pidfile_alive /run/virtlogd.pid && ! pgrep -x virtlogd >/dev/null 2>&1; then
        log "starting virtlogd"
        "${SUDO[@]}" virtlogd -d
    fi
    if libvirtd_alive; then
        return 0
    fi
    log "starting libvirtd"
    "${SUDO[@]}" libvirtd -d
}

deadline=$((SECONDS + START_TIMEOUT))
started=0
until probe; do
    if ((SECONDS >= deadline)); then
        log "libvirtd did not answer on $URI within ${START_TIMEOUT}s."
        log "Run 'libvirtd -v' in the foreground to see why it fails."
        exit 1
    fi
    # (Re)start whatever is missing.  A libvirtd that was just killed may
    # linger for a moment, so this is re-checked on every round instead of
    # once: a dying daemon is replaced as soon as it is gone.
    if ! libvirtd_alive || ((started == 0)); then
        start_daemons
        started=1
    fi
    sleep 0.5
done
log "libvirtd is up ($URI)"

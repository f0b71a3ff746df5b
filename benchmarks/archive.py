"""Export / import throughput against virsh (issue 17): ``python -m benchmarks.archive``.

On the system libvirtd (qemu:///system): a dir pool in /var/tmp, one raw disk of ``--mib``
MiB (random data in the first 80 %, a hole after), a shut-off guest using it. Each repeat
times, on the same disk:

- ``virsh vol-download --sparse`` of the disk to a file, and ``vmtui``'s ``export_guest``
  (the whole archive: sparse stream, sha256, tar);
- ``virsh vol-create-as --allocation 0`` + ``virsh vol-upload --sparse`` of that file into
  the new volume, and ``import_guest`` of the archive (checksum read, volume, upload, define).

Prints medians and the ratios (virsh seconds / vmtui seconds: 1.0 is as fast as virsh; the
target is >= 0.8). Everything made is removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import libvirt

from vmtui.backend import Hypervisor
from vmtui.backend.archive import export_guest, import_guest

URI = "qemu:///system"


def _virsh(*words: str) -> None:
    subprocess.run(["virsh", "-q", "-c", URI, *words], check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.archive")
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    conn = libvirt.open(URI)
    folder = tempfile.mkdtemp(prefix=f"vmtui-test-{os.getpid()}-bench-", dir="/var/tmp")
    os.chmod(folder, 0o755)
    pool_el = ET.Element("pool", type="dir")
    ET.SubElement(pool_el, "name").text = os.path.basename(folder)
    ET.SubElement(ET.SubElement(pool_el, "target"), "path").text = folder
    pool = conn.storagePoolCreateXML(ET.tostring(pool_el, encoding="unicode"), 0)
    dom = None
    hv = Hypervisor(URI)
    hv.connect()
    try:
        vol = pool.createXML(
            f"<volume><name>disk.img</name><capacity unit='MiB'>{args.mib}</capacity>"
            "<allocation>0</allocation><target><format type='raw'/></target></volume>",
            0,
        )
        with open(vol.path(), "r+b") as f:
            for _ in range(args.mib * 8 // 10):
                f.write(os.urandom(1 << 20))
        pool.refresh(0)
        name = f"vmtui-test-{os.getpid()}-bench"
        dom = conn.defineXML(
            f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>"
            "<os><type arch='x86_64'>hvm</type></os><devices>"
            f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            f"<source file='{vol.path()}'/><target dev='vda' bus='virtio'/></disk>"
            "</devices></domain>"
        )
        times: dict[str, list[float]] = {"vdl": [], "exp": [], "vul": [], "imp": []}
        for i in range(args.repeat):
            raw = os.path.join(folder, f"dl{i}.img")
            t = time.perf_counter()
            _virsh("vol-download", "--sparse", "--pool", pool.name(), "disk.img", raw)
            times["vdl"].append(time.perf_counter() - t)
            tar = os.path.join(folder, f"g{i}.tar")
            t = time.perf_counter()
            export_guest(hv, name, tar)
            times["exp"].append(time.perf_counter() - t)
            t = time.perf_counter()  # import makes its volume too: so does the baseline
            _virsh(
                "vol-create-as",
                pool.name(),
                f"up{i}.img",
                f"{args.mib}M",
                "--format",
                "raw",
                "--allocation",
                "0",
            )
            _virsh("vol-upload", "--sparse", "--pool", pool.name(), f"up{i}.img", raw)
            times["vul"].append(time.perf_counter() - t)
            t = time.perf_counter()
            res = import_guest(hv, tar, pool=pool.name(), name=f"{name}-imp{i}")
            times["imp"].append(time.perf_counter() - t)
            conn.lookupByUUIDString(res.uuid).undefine()
            for path in (raw, tar):
                os.unlink(path)
            for v in (f"up{i}.img", f"{name}-imp{i}-vda.raw"):
                pool.storageVolLookupByName(v).delete(0)
        med = {k: statistics.median(v) for k, v in times.items()}
        data = args.mib * 8 // 10
        print(f"disk: {args.mib} MiB raw, {data} MiB of data; {args.repeat} repeats, medians")
        print(f"  virsh vol-download --sparse {med['vdl']:.3f} s  ({data / med['vdl']:.0f} MiB/s)")
        print(f"  vmtui export                {med['exp']:.3f} s  ({data / med['exp']:.0f} MiB/s)")
        print(f"  virsh vol-create + upload   {med['vul']:.3f} s  ({data / med['vul']:.0f} MiB/s)")
        print(f"  vmtui import                {med['imp']:.3f} s  ({data / med['imp']:.0f} MiB/s)")
        for what, a, b in (("export", "vdl", "exp"), ("import", "vul", "imp")):
            ratio = med[a] / med[b]
            verdict = "PASS" if ratio >= 0.8 else "FAIL"
            print(f"  {what} ratio (virsh s / vmtui s): {ratio:.2f}  target >= 0.8 {verdict}")
    finally:
        if dom is not None:
            dom.undefine()
        hv.close()
        for v in pool.listAllVolumes(0):
            v.delete(0)
        pool.destroy()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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

``--also FILE`` (a saved copy of an older ``vmtui/backend/archive.py``) times that file's
``import_guest`` too, in the same repeats, right after the current one: before and after
under the same load.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
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
    parser.add_argument("--also", metavar="FILE", help="an older archive.py to time as well")
    args = parser.parse_args()
    older = None
    if args.also:
        spec = importlib.util.spec_from_file_location("vmtui_archive_older", args.also)
        assert spec is not None and spec.loader is not None
        older = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = older  # dataclasses look their module up
        spec.loader.exec_module(older)
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
        times: dict[str, list[float]] = {"vdl": [], "exp": [], "vul": [], "imp": [], "old": []}
        for i in range(args.repeat):
            raw = os.path.join(folder, f"dl{i}.img")
            os.sync()  # no dirty pages from the step before: each starts alike
            t = time.perf_counter()
            _virsh("vol-download", "--sparse", "--pool", pool.name(), "disk.img", raw)
            times["vdl"].append(time.perf_counter() - t)
            tar = os.path.join(folder, f"g{i}.tar")
            os.sync()  # no dirty pages from the step before: each starts alike
            t = time.perf_counter()
            export_guest(hv, name, tar)
            times["exp"].append(time.perf_counter() - t)
            os.sync()  # no dirty pages from the step before: each starts alike
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
            os.sync()  # no dirty pages from the step before: each starts alike
            t = time.perf_counter()
            res = import_guest(hv, tar, pool=pool.name(), name=f"{name}-imp{i}")
            times["imp"].append(time.perf_counter() - t)
            conn.lookupByUUIDString(res.uuid).undefine()
            made = [f"up{i}.img", f"{name}-imp{i}-vda.raw"]
            if older is not None:
                os.sync()  # no dirty pages from the step before: each starts alike
                t = time.perf_counter()
                res = older.import_guest(hv, tar, pool=pool.name(), name=f"{name}-old{i}")
                times["old"].append(time.perf_counter() - t)
                conn.lookupByUUIDString(res.uuid).undefine()
                made.append(f"{name}-old{i}-vda.raw")
            for path in (raw, tar):
                os.unlink(path)
            for v in made:
                pool.storageVolLookupByName(v).delete(0)
        med = {k: statistics.median(v) for k, v in times.items() if v}
        data = args.mib * 8 // 10
        print(f"disk: {args.mib} MiB raw, {data} MiB of data; {args.repeat} repeats, medians")
        for k, v in times.items():
            if v:
                print(f"  ({k}: " + " ".join(f"{x:.3f}" for x in v) + ")")
        print(f"  virsh vol-download --sparse {med['vdl']:.3f} s  ({data / med['vdl']:.0f} MiB/s)")
        print(f"  vmtui export                {med['exp']:.3f} s  ({data / med['exp']:.0f} MiB/s)")
        print(f"  virsh vol-create + upload   {med['vul']:.3f} s  ({data / med['vul']:.0f} MiB/s)")
        print(f"  vmtui import                {med['imp']:.3f} s  ({data / med['imp']:.0f} MiB/s)")
        if older is not None:
            print(
                f"  older import ({args.also}) {med['old']:.3f} s  ({data / med['old']:.0f} MiB/s)"
            )
        pairs = [("export", "vdl", "exp"), ("import", "vul", "imp")]
        if older is not None:
            pairs.append(("older import", "vul", "old"))
        for what, a, b in pairs:
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

"""Speed and memory figures for vmtui on libvirt test-driver hosts.

Run ``python -m benchmarks.run``; see benchmarks/README.md.
"""

import os
import tempfile

# A benchmark never reads or writes the user's own config: a sort saved there (the dashboard
# remembers it) changes what is measured; one did, unnoticed (benchmarks/README.md). Workers
# started by a benchmark inherit this one.
if "VMTUI_CONFIG" not in os.environ:
    os.environ["VMTUI_CONFIG"] = os.path.join(
        tempfile.mkdtemp(prefix="vmtui-bench-config-"), "config.toml"
    )

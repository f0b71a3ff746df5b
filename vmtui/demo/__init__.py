"""The bundled fake host (``--demo``): libvirt's test driver reading demo-host.xml."""

from pathlib import Path

DEMO_HOST = Path(__file__).parent / "demo-host.xml"
DEMO_URI = f"test://{DEMO_HOST}"

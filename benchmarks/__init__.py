"""Speed and memory figures for vmtui on libvirt test-driver hosts.

Run ``python -m benchmarks.run``; see benchmarks/README.md.
"""

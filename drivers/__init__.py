"""Hypervisor drivers behind one contract (virga.drivers.base)."""

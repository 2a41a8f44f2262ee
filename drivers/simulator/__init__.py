"""The simulator driver: an in-memory hypervisor with latency and failure injection."""

from virga.drivers.simulator.driver import SimulatorDriver

__all__ = ["SimulatorDriver"]

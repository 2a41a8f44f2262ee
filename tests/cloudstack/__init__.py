"""Fidelity to CloudStack: its settings, its own Marvin smoke suite."""

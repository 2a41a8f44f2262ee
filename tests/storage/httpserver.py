"""The local HTTP file server the storage tests use (it lives with the benchmarks, which use it too)."""

from __future__ import annotations

from bench.support.httpserver import FileHandler, FileServer

__all__ = ["FileHandler", "FileServer"]

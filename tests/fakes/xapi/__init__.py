"""A protocol-faithful fake XAPI (XenServer/XCP-ng pool master) for driver tests."""

from __future__ import annotations

from tests.fakes.xapi.db import Database, XapiError
from tests.fakes.xapi.seed import populate
from tests.fakes.xapi.server import FakeXapi

__all__ = ["Database", "FakeXapi", "XapiError", "populate"]

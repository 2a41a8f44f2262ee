"""Unknown request parameters are ignored as CloudStack ignores them; known ones are still checked."""

from __future__ import annotations

import logging

import pytest
from virga.client import ApiError, VirgaClient

from tests.factories import Cloud


async def test_list_apis_with_listall(admin: VirgaClient) -> None:
    """cmk sync sends listApis listall=true: it answers every command."""
    apis = await admin.list("listApis", "api", listall="true")
    assert {"listZones", "deployVirtualMachine"} <= {a["name"] for a in apis}


async def test_unknown_parameters_are_ignored_and_logged(
    admin: VirgaClient, cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    """filter=, a made-up parameter and a made-up map are ignored (logged at debug), not refused."""
    with caplog.at_level(logging.DEBUG, logger="virga.api"):
        zones = await admin.list("listZones", "zone", filter="name,id", frobnicate="1", **{"nothing[0].key": "a"})
    assert [z["id"] for z in zones] == [cloud.zone]
    assert any("frobnicate" in r.getMessage() and "nothing[0].key" in r.getMessage() for r in caplog.records)


async def test_known_parameters_are_still_checked(admin: VirgaClient, cloud: Cloud) -> None:
    """A known parameter with a bad value, a bad key in a known map, and bad paging are 431."""
    cases = [
        ("listZones", {"id": "not-a-uuid"}),
        ("listNetworks", {"tags[0].1bad": "x"}),
        ("listZones", {"page": "1"}),
        ("listZones", {"pagesize": "0"}),
    ]
    for command, params in cases:
        with pytest.raises(ApiError) as err:
            await admin.call(command, **params)
        assert err.value.code == 431, params

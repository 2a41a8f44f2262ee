"""CloudStack's global settings: the ones its setup/dev/*.cfg set exist with CloudStack's metadata and, if virga
implements them, take effect; the others say that virga does not implement them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from virga.client import ApiError, VirgaClient

from tests.support import need

KIT = Path(__file__).resolve().parents[3] / "shared" / "cloudstack-tests" / "kit" / "setup" / "dev"
NOT_IMPLEMENTED = "virga does not implement this"
IMPLEMENTED = {"default.page.size", "guest.domain.suffix", "ping.interval", "ping.timeout"}


def _cfg_settings(name: str) -> dict[str, str]:
    """The globalConfig entries of one of CloudStack's setup/dev configs (its # lines are comments)."""
    text = "\n".join(line for line in (KIT / name).read_text().splitlines() if not line.lstrip().startswith("#"))
    return {g["name"]: g["value"] for g in json.loads(text).get("globalConfig", [])}


def _setup_settings() -> dict[str, str]:
    """What advanced.cfg and basic.cfg set (advanced.cfg's value where both do)."""
    need(KIT.is_dir(), f"CloudStack's kit is missing: {KIT}")
    return {**_cfg_settings("basic.cfg"), **_cfg_settings("advanced.cfg")}


async def test_every_setting_of_the_setup_configs_is_accepted(admin: VirgaClient) -> None:
    """updateConfiguration takes each of advanced.cfg/basic.cfg's values; unimplemented ones say so."""
    wanted = _setup_settings()
    assert len(wanted) >= 19
    for name, value in wanted.items():
        c = (await admin.call("updateConfiguration", name=name, value=value))["configuration"]
        assert c["value"] == value.lower() if c["type"] == "Boolean" else c["value"] == value, name
        (listed,) = await admin.list("listConfigurations", "configuration", name=name)
        assert listed["value"] == c["value"]
        assert (NOT_IMPLEMENTED in listed["description"]) == (name not in IMPLEMENTED), name


async def test_cloudstack_metadata(admin: VirgaClient) -> None:
    """Defaults, categories, scopes and isdynamic are CloudStack's."""
    confs = {c["name"]: c for c in await admin.list("listConfigurations", "configuration", pagesize=-1)}
    assert confs["network.gc.wait"]["defaultvalue"] == "600" and confs["network.gc.wait"]["isdynamic"] is False
    assert confs["ping.interval"]["defaultvalue"] == "60" and confs["ping.interval"]["category"] == "Advanced"
    assert confs["guest.domain.suffix"]["scope"] == "zone" and confs["guest.domain.suffix"]["category"] == "Network"
    assert confs["cpu.overprovisioning.factor"]["scope"] == "cluster"
    assert confs["storage.overprovisioning.factor"]["scope"] == "storagepool"
    assert confs["enable.dynamic.scale.vm"]["type"] == "Boolean"
    with pytest.raises(ApiError) as err:
        await admin.call("updateConfiguration", name="check.pod.cidrs", value="perhaps")
    assert err.value.code == 431


async def test_default_page_size_takes_effect(admin: VirgaClient) -> None:
    """A list call without pagesize returns default.page.size items; pagesize still wins."""
    assert len(await admin.list("listConfigurations", "configuration", pagesize=-1)) > 3
    await admin.call("updateConfiguration", name="default.page.size", value="2")
    assert len(await admin.list("listOsTypes", "ostype")) == 2
    assert len(await admin.list("listOsTypes", "ostype", pagesize=3, page=1)) == 3


async def test_guest_domain_suffix_takes_effect(admin: VirgaClient) -> None:
    """A zone created without a domain gets guest.domain.suffix."""
    await admin.call("updateConfiguration", name="guest.domain.suffix", value="sandbox.simulator")
    zone = (
        await admin.call(
            "createZone",
            name="z1",
            networktype="Advanced",
            dns1="8.8.8.8",
            internaldns1="8.8.4.4",
            guestcidraddress="10.1.1.0/24",
        )
    )["zone"]
    assert zone["domain"] == "sandbox.simulator"

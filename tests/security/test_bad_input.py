"""Bad input never reaches the database or the renderer unchecked: ranges, control characters, map keys, list ids."""

from __future__ import annotations

import json
import xml.dom.minidom

import pytest
from sqlmodel import select
from virga.api.response import to_xml
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.errors import InvalidParameter
from virga.models import Domain, Volume

from tests.api.storage_helpers import code_of, deploy, disk_offering, user_client
from tests.factories import Cloud


async def raw(client: VirgaClient, **params: str) -> tuple[int, bytes]:
    """POST signed parameters as given (no client-side conversion); the status and the body."""
    from virga.client import signed_query

    resp = await client.http.post("/client/api", data=signed_query(params, client.creds))
    return resp.status_code, resp.content


@pytest.mark.parametrize(
    ("command", "params", "name"),
    [
        ("listVirtualMachines", {"page": "99999999999999999999", "pagesize": "10"}, "page"),
        ("listVirtualMachines", {"page": "1", "pagesize": "2147483648"}, "pagesize"),
        ("listZones", {"page": "-2147483649", "pagesize": "1"}, "page"),
        ("listVirtualMachines", {"page": "1" + "0" * 400, "pagesize": "1"}, "page"),
    ],
)
async def test_integers_beyond_java_int_are_431_naming_the_parameter(
    admin: VirgaClient, command: str, params: dict[str, str], name: str
) -> None:
    status, body = await raw(admin, command=command, response="json", **params)
    assert status == 431
    assert name in json.loads(body)[f"{command.lower()}response"]["errortext"]


async def test_java_int_bounds_are_accepted(admin: VirgaClient) -> None:
    status, _ = await raw(admin, command="listZones", response="json", page="2147483647", pagesize="2147483647")
    assert status == 200


async def test_long_parameters_take_64_bits_and_no_more(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    from virga.api.registry import Param

    long_param = Param("size", "long")
    assert long_param.parse(str(2**63 - 1)) == 2**63 - 1
    with pytest.raises(InvalidParameter) as exc:
        long_param.parse(str(2**63))
    assert "size" in str(exc.value)
    assert Param("n", "short").parse("32767") == 32767
    with pytest.raises(InvalidParameter, match="parameter n"):
        Param("n", "short").parse("32768")


async def test_keyword_on_a_nameless_list_is_not_a_5xx(admin: VirgaClient, cloud: Cloud) -> None:
    body = await admin.call("listVirtualRouterElements", keyword="x")
    assert body == {}  # it was 530 AttributeError: name; no element's id holds an "x"


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "tab\there", "new\nline", "del\x7f"])
async def test_control_characters_in_names_are_refused(app: VirgaApp, admin: VirgaClient, value: str) -> None:
    assert await code_of(admin.call("createDomain", name=value)) == 431
    with app.db.session() as s:
        assert s.exec(select(Domain).where(Domain.name == value)).first() is None


async def test_descriptions_keep_line_breaks_but_refuse_other_controls(admin: VirgaClient) -> None:
    made = await admin.call("createDiskOffering", name="d1", displaytext="two\nlines\tand tab", disksize=1)
    assert made["diskoffering"]["displaytext"] == "two\nlines\tand tab"
    assert await code_of(admin.call("createDiskOffering", name="d2", displaytext="bell\x07", disksize=1)) == 431
    assert await code_of(admin.call("createDiskOffering", name="d3", displaytext="nul\x00", disksize=1)) == 431


async def test_map_keys_that_are_not_field_names_are_refused(admin: VirgaClient, cloud: Cloud) -> None:
    status, body = await raw(
        admin, command="listVirtualMachines", response="xml", **{"tags[0].9bad": "1", "tags[0].value": "v"}
    )
    assert status == 431
    xml.dom.minidom.parseString(body)
    assert b"<9bad" not in body


def test_xml_is_well_formed_whatever_was_stored() -> None:
    body = to_xml(
        {"listxresponse": {"count": 1, "x": [{"name": "a\x00b\x1b\ud800c", "9bad": "1", "a b": {"k": ["<&>"]}}]}}
    )
    doc = xml.dom.minidom.parseString(body)
    assert doc.getElementsByTagName("name")[0].firstChild.data == "abc"  # type: ignore[union-attr]
    assert doc.getElementsByTagName("_9bad") and doc.getElementsByTagName("a_b")
    assert doc.getElementsByTagName("k")[0].firstChild.data == "<&>"  # type: ignore[union-attr]


async def test_stored_control_characters_still_render_as_xml(app: VirgaApp, admin: VirgaClient) -> None:
    with app.db.session() as s:  # what an older virga stored before names were checked
        root = s.exec(select(Domain).where(Domain.path == "/")).one()
        s.add(Domain(name="a\x00b", parent_id=root.id, path="/a\x00b/", level=1))
        s.commit()
    status, body = await raw(admin, command="listDomainChildren", response="xml")
    assert status == 200
    names = [n.firstChild.data for n in xml.dom.minidom.parseString(body).getElementsByTagName("name")]  # type: ignore[union-attr]
    assert "ab" in names


async def test_destroy_refuses_another_accounts_volume(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user_client(app, "alice")
    bob = await user_client(app, "bob")
    vm = await deploy(app, alice, cloud, "alice")
    theirs = (await bob.run("createVolume", name="bobs", zoneid=cloud.zone, diskofferingid=disk_offering(app)))[
        "volume"
    ]
    assert await code_of(alice.run("destroyVirtualMachine", id=vm["id"], volumeids=theirs["id"])) in (431, 531)
    assert (await alice.call("listVirtualMachines", id=vm["id"]))["virtualmachine"][0]["state"] == "Running"
    loose = (await alice.run("createVolume", name="loose", zoneid=cloud.zone, diskofferingid=disk_offering(app)))[
        "volume"
    ]
    assert await code_of(alice.run("destroyVirtualMachine", id=vm["id"], volumeids=loose["id"])) == 431


async def test_destroy_deletes_the_listed_data_volumes(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user_client(app, "alice")
    vm = await deploy(app, alice, cloud, "alice")
    vols = []
    for name in ("d1", "d2"):
        vol = await alice.run("createVolume", name=name, zoneid=cloud.zone, diskofferingid=disk_offering(app))
        await alice.run("attachVolume", id=vol["volume"]["id"], virtualmachineid=vm["id"])
        vols.append(vol["volume"]["id"])
    await alice.run("destroyVirtualMachine", id=vm["id"], volumeids=vols[0])
    with app.db.session() as s:
        gone = s.exec(select(Volume).where(Volume.uuid == vols[0])).one()
        kept = s.exec(select(Volume).where(Volume.uuid == vols[1])).one()
        assert gone.removed is not None and gone.state == "Expunged" and gone.vm_id is None
        assert kept.removed is None and kept.vm_id is not None

"""Fuzzing driven by listApis: every command, missing/unknown/malformed values, as root admin and as a user.

No answer is a 5xx, every body is one well-formed JSON or XML envelope whose errorcode is the HTTP status, and
a refused call writes nothing. The default run is bounded with a fixed seed; `./dev.sh test -m fuzz` runs the
longer one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import xml.dom.minidom
from contextvars import ContextVar
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from virga.client import VirgaClient, signed_query
from virga.core import VirgaApp

from tests.api.storage_helpers import deploy, user_client
from tests.factories import Cloud

# Only addresses on this machine (a closed port): fuzzed commands that connect somewhere must not leave it.
SAFE_URLS = [
    "",
    "x",
    "http://127.0.0.1:9/t.qcow2",
    "nfs://127.0.0.1/nope",
    "simulator://fz",
    "qemu+tcp://127.0.0.1:9/s",
]
SAFE_ADDRESSES = ["", "127.0.0.1", "127.0.0.300", "::1", "x", "10.1.1.0/33", "255.255.255.0"]
# CloudStack's answers: success, its client errors, and 531-537 (account, limit, capacity, unavailable,
# allocation, in use, rule conflict). 530 is an internal error: what bad input must never cause.
ANSWERS = {200, 401, 405, 429, 431, 432, 436, *range(531, 538)}
# Calls whose refusal legitimately writes: a wrong password is counted (and may lock the user).
WRITES_WHEN_REFUSED = {"login"}
NASTY_TEXT = ["", " ", "a\x00b", "\x1b[31m", "é", "x" * 300, "<x>&", "'; DROP TABLE user; --", "%s%n", "%ff%fe"]
NUMBERS = [
    "0",
    "-1",
    "1",
    "99999999999999999999",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "1e3",
    "0x10",
    "ten",
]


def _text() -> st.SearchStrategy[str]:
    """Arbitrary text, nasty favourites included."""
    return st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=40))


GOOD_NUMBERS = ["1", "2", "10", "0", "-1", "500", "2147483647", "-2147483648", "9223372036854775807"]


VERBS = ("list", "create", "delete", "update", "add", "remove", "enable", "disable", "destroy", "start", "stop")


def _ids_for(name: str, command: str, ids: dict[str, list[str]]) -> list[str]:
    """Existing ids a parameter probably names: zoneid -> zones; id of deleteVolume -> volumes; else any."""
    if name in ("id", "ids"):
        kind = command.lower()
        for verb in VERBS:
            kind = kind.removeprefix(verb)
        kind = kind.removesuffix("s")
    else:
        kind = name.removesuffix("ids").removesuffix("id")
    kind = {"storage": "storagepool", "virtualmachine": "virtualmachine", "vm": "virtualmachine"}.get(kind, kind)
    return ids.get(kind) or [i for group in ids.values() for i in group]


def _good(param: dict[str, Any], ids: list[str]) -> st.SearchStrategy[Any]:
    """A well-typed value: what passes the parsers and reaches the command (and the database)."""
    name, kind = param["name"], param["type"]
    if "url" in name:
        return st.sampled_from(SAFE_URLS)
    if any(k in name for k in ("ip", "gateway", "netmask", "dns", "cidr")):
        return st.sampled_from(SAFE_ADDRESSES)
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "integer": st.sampled_from(GOOD_NUMBERS[:-1]),
        "short": st.sampled_from(["0", "1", "-1", "32767"]),
        "long": st.sampled_from(GOOD_NUMBERS),
        "boolean": st.sampled_from(["true", "false"]),
        "uuid": st.sampled_from(ids),
        "uuidlist": st.lists(st.sampled_from(ids), min_size=1, max_size=3).map(",".join),
        "date": st.sampled_from(["2026-01-01", "2026-01-01T00:00:00+0000"]),
        "map": st.just("not-a-map"),
    }
    return by_type.get(kind, st.one_of(st.sampled_from(["fz", "x", "Small", "true", "1"]), st.text(max_size=12)))


def _value(param: dict[str, Any], ids: list[str]) -> st.SearchStrategy[Any]:
    """A value for one parameter: well-typed, malformed or hostile."""
    if "url" in param["name"] or any(k in param["name"] for k in ("ip", "gateway", "netmask", "dns", "cidr")):
        return _good(param, ids)
    kind = param["type"]
    bad: dict[str, st.SearchStrategy[Any]] = {
        "integer": st.one_of(st.sampled_from(NUMBERS), st.integers().map(str)),
        "long": st.one_of(st.sampled_from(NUMBERS), st.integers().map(str)),
        "short": st.one_of(st.sampled_from(NUMBERS), st.integers().map(str)),
        "boolean": st.sampled_from(["TRUE", "1", "maybe", ""]),
        "uuid": st.one_of(st.uuids().map(str), _text()),
        "uuidlist": st.lists(st.one_of(st.uuids().map(str), _text()), max_size=3).map(",".join),
        "date": st.sampled_from(["2026-13-45", "yesterday", ""]),
    }
    return st.one_of(bad.get(kind, _text()), _text())


@st.composite
def _request(draw: Any, api: dict[str, Any], ids: dict[str, list[str]]) -> dict[str, str]:
    """The parameters of one call: some of the command's own (required ones sometimes left out), maps, extras."""
    params: dict[str, str] = {"command": api["name"], "response": draw(st.sampled_from(["json", "xml"]))}
    hostile = draw(st.sampled_from([False, False, True]))  # most calls well-typed, to get past the parsers
    for p in api.get("params", []):
        if p["required"] and not hostile:
            params[p["name"]] = draw(_good(p, _ids_for(p["name"], api["name"], ids)))
        elif draw(st.booleans()) or (p["required"] and draw(st.booleans())):
            if p["type"] == "map" and draw(st.booleans()):
                key = draw(st.sampled_from(["key", "value", "9bad", "a-b", "name", "x" * 60]))
                params[f"{p['name']}[{draw(st.sampled_from(['0', '1', '99999999999999999999']))}].{key}"] = draw(
                    _text()
                )
            else:
                known = _ids_for(p["name"], api["name"], ids)
                params[p["name"]] = draw(_value(p, known) if hostile else _good(p, known))
    names = {p["name"] for p in api.get("params", [])}
    if "page" in names and draw(st.booleans()):  # paging comes in pairs: only then does a page reach the query
        params["page"], params["pagesize"] = draw(st.sampled_from(NUMBERS)), draw(st.sampled_from(NUMBERS))
    if hostile and draw(st.booleans()):
        params[draw(st.sampled_from(["bogus", "page", "pagesize", "keyword", "listall"]))] = draw(_text())
    return params


# The statements that change the database, recorded per request: a refused call must have run none.
_WRITES: ContextVar[list[str] | None] = ContextVar("fuzz_writes", default=None)


def _spy_on_writes(app: VirgaApp) -> None:
    """Record each INSERT/UPDATE/DELETE in the list of the request running it (background work has none)."""

    @event.listens_for(app.db.engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        """Note a write made on behalf of the current request."""
        sink = _WRITES.get()
        if sink is not None and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            sink.append(statement[:100])


def _check_body(params: dict[str, str], status: int, ctype: str, body: bytes) -> None:
    """One envelope, well-formed, its errorcode equal to the status."""
    assert status in ANSWERS, f"{status} for {params}: {body[:300]!r}"
    if params["response"] == "json":
        assert ctype.startswith("application/json")
        data = json.loads(body)
        assert isinstance(data, dict) and len(data) == 1, body[:300]
        (inner,) = data.values()
        if status != 200:
            assert inner["errorcode"] == status
    else:
        assert ctype.startswith("text/xml")
        doc = xml.dom.minidom.parseString(body)
        codes = doc.getElementsByTagName("errorcode")
        if status != 200:
            assert codes and codes[0].firstChild is not None and codes[0].firstChild.data == str(status)


async def _known_ids(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> dict[str, list[str]]:
    """Ids of what the cloud holds (a user's VM, volume and network included), by kind; never a user's id."""
    owner = await user_client(app, "owner")
    vm = await deploy(app, owner, cloud, "owner")
    ids: dict[str, list[str]] = {
        "zone": [cloud.zone],
        "pod": [cloud.pod],
        "cluster": [cloud.cluster],
        "storagepool": [cloud.pool],
        "pool": [cloud.pool],
        "template": [cloud.template],
        "host": list(cloud.hosts),
        "virtualmachine": [vm["id"]],
        "network": [vm["nic"][0]["networkid"]],
        "other": [str(uuid.uuid4())],
    }
    for command, item, kind in (
        ("listServiceOfferings", "serviceoffering", "serviceoffering"),
        ("listDiskOfferings", "diskoffering", "diskoffering"),
        ("listNetworkOfferings", "networkoffering", "networkoffering"),
        ("listVolumes", "volume", "volume"),
        ("listDomains", "domain", "domain"),
        ("listPublicIpAddresses", "publicipaddress", "publicipaddress"),
    ):
        ids[kind] = [x["id"] for x in await admin.list(command, item, listall=True)] or ids["other"]
    ids["ipaddress"] = ids["publicipaddress"]
    return ids


async def _fuzz(app: VirgaApp, admin: VirgaClient, cloud: Cloud, examples: int) -> None:
    """Run `examples` fuzzed calls (a hypothesis run in a thread, calling the server on this loop)."""
    user = await user_client(app, "fuzzer")
    apis = [a for a in (await admin.call("listApis"))["api"] if a["name"] not in ("logout",)]
    ids = await _known_ids(app, admin, cloud)
    loop = asyncio.get_running_loop()

    _spy_on_writes(app)

    async def send(client: VirgaClient, params: dict[str, str]) -> tuple[int, str, bytes, list[str]]:
        """POST one signed call (in-process: the server runs it in this task); its answer and its writes."""
        writes: list[str] = []
        _WRITES.set(writes)
        resp = await client.http.post("/client/api", data=signed_query(params, client.creds))
        return resp.status_code, resp.headers.get("content-type", ""), resp.content, writes

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # a fixed seed: the same calls on every run
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def one(data: Any) -> None:
        """One call by admin or user; checked."""
        api = data.draw(st.sampled_from(apis))
        client = data.draw(st.sampled_from([admin, user]))
        params = data.draw(_request(api, ids))
        status, ctype, body, writes = asyncio.run_coroutine_threadsafe(send(client, params), loop).result(120)
        _check_body(params, status, ctype, body)
        if status != 200 and api["name"] not in WRITES_WHEN_REFUSED:
            assert not writes, f"refused call {params} ({status}) wrote to the database: {writes}"
        if status == 200 and writes:
            accepted_writes.append(api["name"])

    accepted_writes: list[str] = []
    await asyncio.to_thread(one)
    assert accepted_writes, "no accepted call was seen writing: the write spy sees nothing"


async def test_fuzz_bounded(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    await _fuzz(app, admin, cloud, examples=300)


@pytest.mark.fuzz
async def test_fuzz_long(app: VirgaApp, admin: VirgaClient, cloud: Cloud, request: pytest.FixtureRequest) -> None:
    if "fuzz" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long fuzz run is for ./dev.sh test -m fuzz")
    await _fuzz(app, admin, cloud, examples=5000)

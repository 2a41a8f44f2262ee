"""Host facts and the choice of domain type (kvm with hardware support, else qemu/TCG)."""

from __future__ import annotations

import grp
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping

import libvirt
from virga.drivers.base import HostFacts

HW_FLAGS = frozenset({"vmx", "svm"})


def version_text(number: int) -> str:
    """libvirt's packed version number as major.minor.micro."""
    return f"{number // 1000000}.{number // 1000 % 1000}.{number % 1000}"


def domain_types(caps: ET.Element, arch: str = "x86_64") -> set[str]:
    """The domain types the host's capabilities offer for an arch."""
    return {d.get("type", "") for d in caps.findall(f"guest/arch[@name='{arch}']/domain")}


def _domcaps_features(conn: libvirt.virConnect) -> set[str] | None:
    """CPU features the host-model CPU has, from the kvm domain capabilities (None when unavailable).

    The host-model lists its named model's features with policy 'disable' where the host lacks them
    (an EPYC model without svm on a host whose hypervisor hides it): only the others are the host's.
    """
    try:
        dc = ET.fromstring(conn.getDomainCapabilities(None, "x86_64", None, "kvm", 0))
    except libvirt.libvirtError:
        return None
    found = dc.findall("cpu/mode[@name='host-model']/feature")
    return {f.get("name", "") for f in found if f.get("policy", "require") not in ("disable", "forbid")}


def hardware_virt(conn: libvirt.virConnect, caps: ET.Element) -> bool:
    """Whether the host CPU has vmx/svm and libvirt offers kvm domains."""
    if "kvm" not in domain_types(caps):
        return False
    features = {f.get("name", "") for f in caps.findall("host/cpu/feature")}
    if features & HW_FLAGS:
        return True
    return bool((_domcaps_features(conn) or set()) & HW_FLAGS)


def choose_domain_type(conn: libvirt.virConnect, caps: ET.Element, options: Mapping[str, str]) -> str:
    """kvm when hardware virtualization is usable, else qemu (TCG); options['domain_type'] overrides."""
    if options.get("domain_type"):
        return options["domain_type"]
    types = domain_types(caps)
    if hardware_virt(conn, caps):
        return "kvm"
    if "qemu" in types:
        return "qemu"
    return sorted(types)[0] if types else "qemu"


def facts(conn: libvirt.virConnect, options: Mapping[str, str], hypervisor: str) -> tuple[HostFacts, str]:
    """The host's facts and the domain type to use on it."""
    caps = ET.fromstring(conn.getCapabilities())
    dtype = choose_domain_type(conn, caps, options)
    model, mem_mb, cpus, mhz, *_ = conn.getInfo()
    accel = {"kvm": "kvm", "qemu": "tcg"}.get(dtype, dtype)
    extra = {
        "libvirt_version": version_text(conn.getLibVersion()),
        "domain_type": dtype,
        "uri": conn.getURI(),
    }
    return HostFacts(
        name=conn.getHostname(),
        hypervisor=hypervisor,
        hypervisor_version=version_text(conn.getVersion()),
        cpu_model=caps.findtext("host/cpu/model") or model,
        cpu_count=cpus,
        cpu_mhz=mhz,
        memory_bytes=mem_mb * 1024 * 1024,
        arch=caps.findtext("host/cpu/arch") or model,
        accelerator=accel,
        extra=extra,
    ), dtype


def kvm_device_problem(dev: str = "/dev/kvm") -> str:
    """Why libvirt would re-probe QEMU's capabilities on every call here (empty when all is well).

    libvirt caches QEMU's capabilities only while its view of KVM stays the same: when QEMU (run as root)
    can open /dev/kvm but the qemu user cannot (the device is not in group `kvm`), every lookup finds
    the cache stale and spawns QEMU again, which costs seconds per define/start on a loaded host.
    """
    try:
        st = os.stat(dev)
        kvm_gid = grp.getgrnam("kvm").gr_gid
    except (OSError, KeyError):
        return ""
    if st.st_gid == kvm_gid or st.st_mode & 0o006 == 0o006:
        return ""
    return (
        f"{dev} belongs to group {st.st_gid}, not kvm ({kvm_gid}): libvirt re-probes QEMU on every call; "
        f"fix it with `chgrp kvm {dev}` (or a udev rule)"
    )

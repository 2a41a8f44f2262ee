"""Choosing kvm or qemu (TCG) from what libvirt says of the host: no daemon needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("libvirt", reason="libvirt-python (the libvirt extra) is not installed")

from virga.drivers.libvirt.host import choose_domain_type  # noqa: E402

CAPS = """<capabilities><host><cpu><arch>x86_64</arch><model>EPYC-Milan</model>{host_features}</cpu></host>
<guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"""
DOMCAPS = """<domainCapabilities><cpu><mode name='host-model' supported='yes'>
<model fallback='forbid'>EPYC-Milan</model><feature policy='require' name='x2apic'/>{features}
</mode></cpu></domainCapabilities>"""


class FakeConn:
    """The one libvirt call choose_domain_type makes besides the capabilities it is given."""

    def __init__(self, features: str) -> None:
        """Answer getDomainCapabilities with a host-model holding these feature lines."""
        self.xml = DOMCAPS.format(features=features)

    def getDomainCapabilities(self, *args: object) -> str:  # noqa: N802 (libvirt's name)
        """The kvm domain capabilities."""
        return self.xml


@pytest.mark.parametrize(
    ("host_features", "domcaps_features", "expected"),
    [
        ("<feature name='svm'/>", "", "kvm"),
        ("", "<feature policy='require' name='svm'/>", "kvm"),
        ("", "<feature policy='disable' name='svm'/>", "qemu"),  # a model the hypervisor stripped of svm
        ("", "<feature policy='disable' name='vmx'/><feature policy='require' name='ssbd'/>", "qemu"),
        ("", "", "qemu"),
    ],
)
def test_kvm_only_with_hardware_virtualization(host_features: str, domcaps_features: str, expected: str) -> None:
    """kvm needs vmx/svm on the host; a feature the host-model disables does not count."""
    caps = ET.fromstring(CAPS.format(host_features=host_features))
    assert choose_domain_type(FakeConn(domcaps_features), caps, {}) == expected  # type: ignore[arg-type]


def test_domain_type_option_wins() -> None:
    """options['domain_type'] overrides the detection."""
    caps = ET.fromstring(CAPS.format(host_features="<feature name='svm'/>"))
    assert choose_domain_type(FakeConn(""), caps, {"domain_type": "qemu"}) == "qemu"  # type: ignore[arg-type]

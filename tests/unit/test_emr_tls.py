"""The self-signed bundle of EMR's in-transit encryption (dpc.infra.emr_tls): what EMR
reads from the zip, for the host names the cluster's nodes have."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dpc.infra.emr_tls import self_signed_bundle


@pytest.mark.parametrize(
    ("region", "hosts"),
    [("eu-west-1", "*.eu-west-1.compute.internal"), ("us-east-1", "*.ec2.internal")],
)
def test_the_bundle_is_a_key_and_the_certificate_it_signs_for_the_regions_nodes(
    region: str, hosts: str
) -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    archive = zipfile.ZipFile(io.BytesIO(self_signed_bundle(region, now)))
    assert sorted(archive.namelist()) == [
        "certificateChain.pem",
        "privateKey.pem",
        "trustedCertificates.pem",
    ]
    certificate = x509.load_pem_x509_certificate(archive.read("certificateChain.pem"))
    key = serialization.load_pem_private_key(archive.read("privateKey.pem"), password=None)
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == [hosts]
    assert archive.read("trustedCertificates.pem") == archive.read("certificateChain.pem")
    assert certificate.not_valid_after_utc.year == 2031

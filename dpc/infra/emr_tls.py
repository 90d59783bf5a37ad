"""The PEM bundle EMR's in-transit encryption needs, created once per account and region.

An EMR security configuration with in-transit encryption names a zip in S3 holding
``privateKey.pem``, ``certificateChain.pem`` and ``trustedCertificates.pem`` (AWS: "Providing
certificates for encrypting data in transit with Amazon EMR encryption"). A team with its own
PKI gives that zip to ``dpc setup-user-account --emr-tls-certificates``; otherwise dpc makes a
self-signed one for the VPC's internal host names, as AWS's guide does, stores it in the
account's own assets bucket (private, encrypted, owner-checked) and never replaces it, so
clusters started before and after a setup agree on the trust anchor.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dpc.infra import ids
from dpc.infra.deploy import DeployError

if TYPE_CHECKING:
    from dpc.infra.deploy import DeployService

VALIDITY = timedelta(days=5 * 365)


def internal_host_pattern(region: str) -> str:
    """EC2's private DNS names in ``region`` (us-east-1 keeps the historic ec2.internal)."""
    return "*.ec2.internal" if region == "us-east-1" else f"*.{region}.compute.internal"


def self_signed_bundle(region: str, now: datetime | None = None) -> bytes:
    """A zip of a new RSA key and a self-signed certificate for the region's host names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    issued = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    host = internal_host_pattern(region)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, host),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dpc EMR in-transit encryption"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued - timedelta(minutes=5))
        .not_valid_after(issued + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("privateKey.pem", private)
        archive.writestr("certificateChain.pem", pem)
        archive.writestr("trustedCertificates.pem", pem)
    return buffer.getvalue()


def ensure_tls_certificates(service: DeployService) -> bool:
    """Store a self-signed bundle at ``ids.EMR_TLS_CERTIFICATES_KEY`` of the account's assets
    bucket unless one is there (never replaced); returns whether one was created."""
    from botocore.exceptions import ClientError

    bucket = service.ensure_assets_bucket()
    key = ids.EMR_TLS_CERTIFICATES_KEY
    try:
        service.s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=service.account)
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
            raise DeployError(f"cannot read s3://{bucket}/{key}: {error}") from None
    service.s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=self_signed_bundle(service.region),
        ServerSideEncryption="AES256",
        ExpectedBucketOwner=service.account,
    )
    return True

"""A minimal RFC 3161 Time-Stamping Authority for the tests, served on 127.0.0.1.

Built from asn1crypto's TSP/CMS structures and cryptography's signing, with a throw-away CA, so
that inkseal's timestamp client and offline checks run against real DER tokens over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import threading

from asn1crypto import algos, cms, core, tsp, x509 as a509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class TestTSA:
    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA Root")])
        ski = x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key())
        self.ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.ca_key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
                   .add_extension(ski, critical=False).sign(self.ca_key, hashes.SHA256()))
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (x509.CertificateBuilder()
                     .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(2).not_valid_before(now)
                     .not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
                     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
                     .sign(self.ca_key, hashes.SHA256()))
        self.serial = 100

    @property
    def root_pem(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.PEM)

    def respond(self, request_der: bytes) -> bytes:
        req = tsp.TimeStampReq.load(request_der)
        self.serial += 1
        info = tsp.TSTInfo({
            "version": "v1", "policy": "1.2.3.4.1", "message_imprint": req["message_imprint"],
            "serial_number": self.serial, "gen_time": dt.datetime.now(dt.UTC).replace(microsecond=0),
            "nonce": req["nonce"].native if req["nonce"].native is not None else None,
        })
        info_der = info.dump()
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        signed_attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(info_der).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2({
                "certs": [tsp.ESSCertIDv2({"hash_algorithm": {"algorithm": "sha256"},
                                           "cert_hash": hashlib.sha256(cert_der).digest()})]})]}),
        ])
        from cryptography.hazmat.primitives.asymmetric import ec as _ec

        signature = self.key.sign(signed_attrs.dump(), _ec.ECDSA(hashes.SHA256()))
        a_cert = a509.Certificate.load(cert_der)
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
                "issuer": a_cert.issuer, "serial_number": a_cert.serial_number})}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        })
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(info_der)},
            "certificates": [a_cert], "signer_infos": [signer],
        })
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    def serve(self) -> tuple[str, http.server.ThreadingHTTPServer]:
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                resp = tsa.respond(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(resp)))
                self.end_headers()
                self.wfile.write(resp)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/tsa", server

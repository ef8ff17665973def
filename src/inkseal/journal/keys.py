"""The author's signing key: Ed25519, private half encrypted at rest with a passphrase.

    $INKSEAL_HOME/keys/author.key   PKCS#8 PEM, encrypted (cryptography's best available scheme)
    $INKSEAL_HOME/keys/author.pub   SubjectPublicKeyInfo PEM

The key id is the SHA-256 of the raw public key, hex: short enough to print, long enough to be
unambiguous. The passphrase comes from the caller (CLI prompt, --passphrase-file, or the
INKSEAL_PASSPHRASE environment variable for scripts); it is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from inkseal.errors import InksealError


class KeyError_(InksealError):
    pass


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_("not an Ed25519 public key")
    return key


def verify_signature(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
        return True
    except InvalidSignature:
        return False


@dataclass
class KeyStore:
    directory: Path

    @property
    def private_path(self) -> Path:
        return self.directory / "author.key"

    @property
    def public_path(self) -> Path:
        return self.directory / "author.pub"

    def exists(self) -> bool:
        return self.private_path.exists() and self.public_path.exists()

    def init(self, passphrase: str, *, force: bool = False, creator: str = "inkseal creator") -> str:
        """Create the journal signing key, the C2PA credentials and the watermark key."""
        if self.exists() and not force:
            raise KeyError_(f"a key already exists in {self.directory} (key id {self.key_id()[:16]}…)")
        if len(passphrase) < 8:
            raise KeyError_("the passphrase must be at least 8 characters")
        private = Ed25519PrivateKey.generate()
        self._write(private, passphrase)
        self.init_c2pa(passphrase, creator)
        self._write_secret(self.watermark_path, os.urandom(32))
        return key_id(private.public_key())

    # -- C2PA credentials and the watermark key ---------------------------------------------
    @property
    def c2pa_dir(self) -> Path:
        return self.directory / "c2pa"

    @property
    def watermark_path(self) -> Path:
        return self.directory / "watermark.key"

    def _write_secret(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def init_c2pa(self, passphrase: str, creator: str, chain_pem: bytes | None = None, key_pem: bytes | None = None) -> None:
        """A local CA + signing certificate, or the creator's own chain and key (bring your own)."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from inkseal.seal.certs import make_credentials

        if chain_pem is None or key_pem is None:
            creds = make_credentials(creator)
            chain_pem, key_pem, ca_pem = creds.chain_pem, creds.leaf_key_pem, creds.ca_cert_pem
        else:
            certs = x509.load_pem_x509_certificates(chain_pem)
            ca_pem = certs[-1].public_bytes(serialization.Encoding.PEM)
        key = load_pem_private_key(key_pem, None)
        encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(passphrase.encode()))
        self.c2pa_dir.mkdir(parents=True, exist_ok=True)
        (self.c2pa_dir / "chain.pem").write_bytes(chain_pem)
        (self.c2pa_dir / "anchor.pem").write_bytes(ca_pem)
        self._write_secret(self.c2pa_dir / "signer.key", encrypted)

    def c2pa_credentials(self, passphrase: str) -> tuple[bytes, bytes, bytes]:
        """(chain PEM, unencrypted key PEM for the signer, trust anchor PEM)."""
        if not (self.c2pa_dir / "signer.key").exists():
            raise KeyError_("no C2PA credentials yet: run `inkseal keys init`")
        try:
            key = serialization.load_pem_private_key((self.c2pa_dir / "signer.key").read_bytes(), passphrase.encode())
        except (ValueError, TypeError):
            raise KeyError_("wrong passphrase for the C2PA signing key") from None
        plain = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        return (self.c2pa_dir / "chain.pem").read_bytes(), plain, (self.c2pa_dir / "anchor.pem").read_bytes()

    def trust_anchor(self) -> bytes | None:
        p = self.c2pa_dir / "anchor.pem"
        return p.read_bytes() if p.exists() else None

    def watermark_key(self) -> bytes:
        if not self.watermark_path.exists():
            raise KeyError_("no watermark key yet: run `inkseal keys init`")
        return self.watermark_path.read_bytes()

    def watermark_key_for(self, work_id: int) -> bytes:
        """Each work is marked with its own key derived from the master key, so that an evidence pack
        can disclose one work's key (anyone can then re-check that decode) without exposing the rest."""
        return hmac.new(self.watermark_key(), f"inkseal-wm/1 work {int(work_id)}".encode(), hashlib.sha256).digest()

    def _write(self, private: Ed25519PrivateKey, passphrase: str) -> None:
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(passphrase.encode()))
        self._write_secret(self.private_path, pem)
        self.public_path.write_text(public_pem(private.public_key()))

    def public(self) -> Ed25519PublicKey:
        if not self.public_path.exists():
            raise KeyError_("no signing key yet: run `inkseal keys init`")
        return load_public(self.public_path.read_bytes())

    def key_id(self) -> str:
        return key_id(self.public())

    def private(self, passphrase: str) -> Ed25519PrivateKey:
        if not self.private_path.exists():
            raise KeyError_("no signing key yet: run `inkseal keys init`")
        try:
            key = serialization.load_pem_private_key(self.private_path.read_bytes(), passphrase.encode())
        except (ValueError, TypeError):
            raise KeyError_("wrong passphrase for the signing key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_("the stored key is not an Ed25519 key")
        return key

    def export_private(self) -> bytes:
        """The encrypted PEM as stored (still protected by its passphrase)."""
        return self.private_path.read_bytes()

    def import_private(self, pem: bytes, passphrase: str, *, force: bool = False) -> str:
        if self.exists() and not force:
            raise KeyError_(f"a key already exists in {self.directory}; pass --force to replace it")
        try:
            key = serialization.load_pem_private_key(pem, passphrase.encode())
        except (ValueError, TypeError):
            raise KeyError_("cannot open that key with this passphrase") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_("only Ed25519 keys are supported")
        self._write(key, passphrase)
        return key_id(key.public_key())

"""The author's signing key: Ed25519, private half encrypted at rest with a passphrase.

    $INKSEAL_HOME/keys/author.key     PKCS#8 PEM, encrypted (cryptography's best available scheme)
    $INKSEAL_HOME/keys/author.pub     SubjectPublicKeyInfo PEM
    $INKSEAL_HOME/keys/c2pa/          C2PA chain, trust anchor, encrypted signer key
    $INKSEAL_HOME/keys/watermark.key  32-byte watermark master key, encrypted with the same passphrase
                                      (scrypt + AES-256-GCM, see `seal_secret`)

keys/ is 0700 and every file in it 0600 (checked and repaired by `fix_permissions()` at open).

`backup()` / `restore()` move all of keys/ as ONE file encrypted with the passphrase (the same
scrypt + AES-256-GCM envelope as the watermark key): losing keys/ loses the ability to sign the
journal, to seal with trusted C2PA credentials and to read the watermark, so back up after `keys init`.

The key id is the SHA-256 of the raw public key, hex: short enough to print, long enough to be
unambiguous. The passphrase comes from the caller (CLI prompt, --passphrase-file, or the
INKSEAL_PASSPHRASE environment variable for scripts); it is never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

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


# -- a small secret (the watermark master key) encrypted with the passphrase ----------------------
# PKCS#8 only wraps private keys, so raw secrets get a tiny self-describing JSON envelope built from
# cryptography's primitives: scrypt (memory-hard KDF) and AES-256-GCM (authenticated: a wrong
# passphrase or an edited file is detected, never decrypted into a wrong key).
SECRET_FORMAT = "inkseal-secret"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def _kdf(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def seal_secret(secret: bytes, passphrase: str, purpose: str) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    box = AESGCM(_kdf(passphrase, salt, **_SCRYPT)).encrypt(nonce, secret, purpose.encode())
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    doc = {"format": SECRET_FORMAT, "version": 1, "purpose": purpose, "kdf": "scrypt", **_SCRYPT,
           "cipher": "aes-256-gcm", "salt": b64(salt), "nonce": b64(nonce), "ciphertext": b64(box)}
    return (json.dumps(doc, indent=1) + "\n").encode()


def is_sealed_secret(data: bytes) -> bool:
    # A legacy watermark key is exactly 32 raw bytes (which may well start with "{").
    return len(data) != 32 and data.lstrip().startswith(b"{")


def open_secret(data: bytes, passphrase: str, purpose: str) -> bytes:
    """Decrypt `seal_secret` output; KeyError_ with one line on a wrong passphrase or a damaged file."""
    try:
        doc = json.loads(data)
        if doc.get("format") != SECRET_FORMAT or doc.get("kdf") != "scrypt" or doc.get("purpose") != purpose:
            raise ValueError("unknown format")
        n, r, p = int(doc["n"]), int(doc["r"]), int(doc["p"])
        if not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):  # a hostile file must not cost GBs
            raise ValueError("scrypt parameters out of range")
        salt, nonce, box = (base64.b64decode(doc[k], validate=True) for k in ("salt", "nonce", "ciphertext"))
    except (ValueError, KeyError, TypeError):
        raise KeyError_(f"the {purpose} file is damaged or not an inkseal key / {purpose} 文件已损坏") from None
    try:
        return AESGCM(_kdf(passphrase, salt, n, r, p)).decrypt(nonce, box, purpose.encode())
    except Exception:  # InvalidTag: wrong passphrase, or the file was altered
        raise KeyError_(f"wrong passphrase for the {purpose} / {purpose} 的口令错误") from None


BACKUP_FORMAT = "inkseal-key-backup"
BACKUP_PURPOSE = "key backup"
BACKUP_MAX_BYTES = 8 * 1024 * 1024  # keys are a few KB; a bigger "backup" is not ours


# Watermark master keys already opened in this process, by the SHA-256 of their encrypted file: a
# command that was given the passphrase once (seal, evidence) does not pay scrypt again.
_UNLOCKED: dict[str, bytes] = {}
_ACCEPTED: set[tuple[str, str]] = set()  # (file digest, passphrase digest) already checked against it


def _pass_digest(passphrase: str) -> str:
    return hashlib.sha256(passphrase.encode()).hexdigest()


def verify_signature(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
        return True
    except InvalidSignature:
        return False


def _chmod_private(path: Path, mode: int) -> None:
    """Take group and other bits away (never add any): `mode` is the most we allow."""
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            os.chmod(path, current & mode)
    except OSError:
        pass  # not ours (another user's file on a shared home): reading still works, say nothing


def derive_blind_key(master: bytes) -> bytes:
    """The blind mark's key from a watermark master key (one-way: the key never reveals the master)."""
    return hmac.new(master, b"inkseal blind v2 key", hashlib.sha256).digest()


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
        self._store_watermark_key(os.urandom(32), passphrase)
        return key_id(private.public_key())

    def describe(self) -> dict:
        """What may be shown of these keys: ids, public key, certificate subject - never private material."""
        subject = None
        chain = self.c2pa_dir / "chain.pem"
        if chain.exists():
            try:
                subject = x509.load_pem_x509_certificates(chain.read_bytes())[0].subject.rfc4514_string()
            except ValueError:
                subject = None  # a damaged chain: the rest is still worth showing
        return {"key_id": self.key_id(), "public_key": self.public_path.read_text(), "certificate_subject": subject,
                "watermark_key": self.watermark_path.exists()}

    def fix_permissions(self) -> None:
        """keys/ 0700, every file under it 0600: repairs homes made by older versions (or a copy)."""
        if not self.directory.exists():
            return
        for d, _dirs, files in os.walk(self.directory):
            _chmod_private(Path(d), 0o700)
            for f in files:
                _chmod_private(Path(d) / f, 0o600)

    # -- C2PA credentials and the watermark key ---------------------------------------------
    @property
    def c2pa_dir(self) -> Path:
        return self.directory / "c2pa"

    @property
    def watermark_path(self) -> Path:
        return self.directory / "watermark.key"

    def _mkdir(self, path: Path) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in (self.directory, path):
            _chmod_private(d, 0o700)

    def _write_secret(self, path: Path, data: bytes) -> None:
        self._mkdir(path.parent)
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
        self._write_secret(self.c2pa_dir / "chain.pem", chain_pem)
        self._write_secret(self.c2pa_dir / "anchor.pem", ca_pem)
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

    # The watermark master key is encrypted with the passphrase. Files written by older versions hold
    # the 32 raw bytes: they are still read without a passphrase, and re-encrypted in place the first
    # time a passphrase is given (`unlock_watermark`, `seal`, `evidence`, or `keys init` on a new home).
    def _store_watermark_key(self, master: bytes, passphrase: str) -> None:
        sealed = seal_secret(master, passphrase, "watermark key")
        self._write_secret(self.watermark_path, sealed)
        digest = hashlib.sha256(sealed).hexdigest()
        _UNLOCKED[digest] = master
        _ACCEPTED.add((digest, _pass_digest(passphrase)))

    def _watermark_file(self) -> bytes:
        if not self.watermark_path.exists():
            raise KeyError_("no watermark key yet: run `inkseal keys init` / 尚无水印密钥：请运行 `inkseal keys init`")
        return self.watermark_path.read_bytes()

    def watermark_locked(self) -> bool:
        """True when the watermark key exists but needs a passphrase this process has not been given."""
        if not self.watermark_path.exists():
            return False
        data = self._watermark_file()
        return is_sealed_secret(data) and hashlib.sha256(data).hexdigest() not in _UNLOCKED

    def unlock_watermark(self, passphrase: str) -> None:
        """Open the watermark key with `passphrase` for the rest of this process (and encrypt a legacy one)."""
        self.watermark_key(passphrase)

    def watermark_key(self, passphrase: str | None = None) -> bytes:
        data = self._watermark_file()
        if not is_sealed_secret(data):  # legacy plaintext: migrate as soon as we can
            if len(data) != 32:
                raise KeyError_("the watermark key file is damaged / 水印密钥文件已损坏")
            if passphrase is not None:
                self._store_watermark_key(data, passphrase)
            return data
        digest = hashlib.sha256(data).hexdigest()
        if digest in _UNLOCKED and (passphrase is None or (digest, _pass_digest(passphrase)) in _ACCEPTED):
            return _UNLOCKED[digest]
        if passphrase is None:
            raise KeyError_("the watermark key is encrypted: give the passphrase (INKSEAL_PASSPHRASE, "
                            "--passphrase-file or the prompt) / 水印密钥已加密：请提供口令")
        master = open_secret(data, passphrase, "watermark key")  # a wrong passphrase is always caught
        _UNLOCKED[digest] = master
        _ACCEPTED.add((digest, _pass_digest(passphrase)))
        return master

    def watermark_key_for(self, work_id: int, passphrase: str | None = None) -> bytes:
        """Each work is marked with its own key derived from the master key, so that an evidence pack
        can disclose one work's key (anyone can then re-check that decode) without exposing the rest."""
        return hmac.new(self.watermark_key(passphrase), f"inkseal-wm/1 work {int(work_id)}".encode(),
                        hashlib.sha256).digest()

    def blind_key(self, passphrase: str | None = None) -> bytes:
        """The key of the blind mark (seal.blindmark): one per key store, i.e. per installation or account,
        so one read names any of its works. Derived from the master key; never put in a pack (whoever
        holds it can name, and mark, every work of this creator)."""
        return derive_blind_key(self.watermark_key(passphrase))

    def _write(self, private: Ed25519PrivateKey, passphrase: str) -> None:
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(passphrase.encode()))
        self._write_secret(self.private_path, pem)
        self._write_secret(self.public_path, public_pem(private.public_key()).encode())

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

    # -- one encrypted bundle of every key --------------------------------------------------------
    def backup(self, passphrase: str) -> bytes:
        """Every file of keys/ (journal key, rotated keys, C2PA CA + signer chain and key, watermark key)
        as one bundle encrypted with `passphrase`. The passphrase must open the keys, so that what is
        restored works with it; a legacy plaintext watermark key is encrypted first."""
        self.private(passphrase)  # missing key or wrong passphrase: one line, nothing written
        if (self.c2pa_dir / "signer.key").exists():
            self.c2pa_credentials(passphrase)
        if self.watermark_path.exists():
            self.watermark_key(passphrase)
        files = {p.relative_to(self.directory).as_posix(): base64.b64encode(p.read_bytes()).decode()
                 for p in sorted(self.directory.rglob("*")) if p.is_file() and p.suffix != ".tmp"}
        doc = {"format": BACKUP_FORMAT, "version": 1, "key_id": self.key_id(), "files": files}
        return seal_secret(json.dumps(doc, sort_keys=True).encode(), passphrase, BACKUP_PURPOSE)

    def restore(self, bundle: bytes, passphrase: str, *, force: bool = False,
                keep_signing_key: bool = False) -> tuple[str, list[str]]:
        """Write the keys of a `backup()` bundle into keys/: (journal key id, files restored).
        Refuses to replace any existing key unless `force`; with `keep_signing_key` (a journal already
        signed here), refuses a bundle whose signing key is another one, whatever `force`."""
        if len(bundle) > BACKUP_MAX_BYTES:
            raise KeyError_("that is not an inkseal key backup (too large) / 这不是 inkseal 密钥备份文件")
        plain = open_secret(bundle, passphrase, BACKUP_PURPOSE)  # wrong passphrase or damaged: one line
        try:
            doc = json.loads(plain)
            if doc.get("format") != BACKUP_FORMAT or not isinstance(doc.get("files"), dict):
                raise ValueError("not a key backup")
            files: dict[PurePosixPath, bytes] = {}
            for rel, b64 in doc["files"].items():
                path = PurePosixPath(rel)
                # the bundle is authenticated, but a path must still stay inside keys/
                if path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts):
                    raise ValueError(f"bad path {rel!r}")
                files[path] = base64.b64decode(b64, validate=True)
            author_key = files[PurePosixPath("author.key")]
        except (ValueError, KeyError, TypeError):
            raise KeyError_("the key backup is damaged or not an inkseal key backup / 密钥备份文件已损坏") from None
        try:
            private = serialization.load_pem_private_key(author_key, passphrase.encode())
        except (ValueError, TypeError):
            raise KeyError_("the backup's signing key does not open with this passphrase / 备份中的签名密钥口令不符") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyError_("the backup's signing key is not an Ed25519 key / 备份中的签名密钥类型不符")
        new_id = key_id(private.public_key())
        if keep_signing_key and self.exists() and self.key_id() != new_id:
            raise KeyError_(f"the journal here is signed with key {self.key_id()[:16]}…, the backup holds key "
                            f"{new_id[:16]}…: restoring it would break the journal's chain of keys (use "
                            "`inkseal keys rotate` to change keys) / 本地日志已由另一密钥签名，不能用该备份覆盖")
        existing = sorted(p.relative_to(self.directory).as_posix()
                          for p in self.directory.rglob("*") if p.is_file()) if self.directory.exists() else []
        if existing and not force:
            raise KeyError_(f"keys already exist in {self.directory} ({', '.join(existing[:4])}"
                            f"{', …' if len(existing) > 4 else ''}): pass --force to replace them / "
                            "该目录已有密钥：如需覆盖请加 --force")
        for path, data in files.items():
            self._write_secret(self.directory.joinpath(*path.parts), data)
        self.fix_permissions()
        return self.key_id(), sorted(p.as_posix() for p in files)

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

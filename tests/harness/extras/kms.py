"""Provisioners whose keys live in KMS backends that run on this machine.

Before the session CA starts, this module makes one signing key in each backend and adds
a JWK provisioner whose ``key`` is that key's public JWK (kid = RFC 7638 thumbprint, no
encryptedKey), so only a signature made *by the backend* can satisfy it:

* ``kms-pkcs11``: EC P-256 generated inside a SoftHSM2 token (its own ``SOFTHSM2_CONF``
  under ``<workdir>/kms/softhsm``); the token also holds a secp256k1 key (unsupported
  type), X5C leaf certificates for two P-256 keys (provisioner ``kms-x5c``: one issued
  by its root, one by an intermediate that only a chain file holds);
* ``kms-sshagent``: an OpenSSH ECDSA P-256 key made by ``ssh-keygen`` (tests load it into
  their own ``ssh-agent``);
* ``kms-tpm``: an ES256 key created with tpm2-tools in a software TPM (``swtpm``, one for
  the session), in pystep's tpmkms key layout;
* ``kms-awskms``: an ECC_NIST_P256 key in a moto server (one for the session), plus an
  ECC_SECG_P256K1 key (unsupported type).

The keys are made with the tools and libraries themselves (softhsm2-util and
python-pkcs11 in a child process, ssh-keygen, tpm2-tools, boto3), never with pystep.

What the tests need (URIs, environment, PINs) is in ``<workdir>/kms/state.json``, read
with :func:`load_state`: one entry per backend, either the details or ``{"missing":
reason}`` (a tool or package is not installed) or ``{"error": reason}`` (setup failed).
A backend that cannot be set up never stops the session CA: only its tests fail or skip.

Processes (swtpm, moto) run for the whole session: they are stopped by an ``atexit``
handler, and get SIGTERM from the kernel if the test process dies first.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki
from tests.harness.ports import free_port, free_port_pair
from tests.harness.processes import die_with_parent, keep_for_session

STATE = "state.json"
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
HSM_TOKEN = "pystep-kms"
HSM_PIN = "735911"  # distinctive, so tests can check it never reaches the output
HSM_SO_PIN = "86420864"
HSM_KEY_ID = "a1"
HSM_K1_ID = "b2"
HSM_CHAIN_ID = "c3"  # a P-256 key whose token certificate needs an intermediate
AGENT_COMMENT = "pystep-kms-agent"
TPM_KEY = "kms-tpm-key"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

Details = dict[str, Any]



class Missing(Exception):
    """A tool or package this backend needs is not installed."""


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=die_with_parent,
        )
    keep_for_session(proc)


def _wait_port(port: int, log: Path, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port}: {log.read_text()[-500:]}")


def _need(*tools: str) -> None:
    absent = [t for t in tools if shutil.which(t) is None]
    if absent:
        raise Missing(f"not installed: {', '.join(absent)}")


def _run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


# --- PKCS#11 on SoftHSM2 -----------------------------------------------------------------

_HSM_SCRIPT = r"""
import datetime, json, sys
import pkcs11
from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

module, label, pin, key_id, k1_id, chain_id, x5c_dir, outdir = sys.argv[1:]
pem = serialization.Encoding.PEM

def load(name):
    data = open(f"{x5c_dir}/{name}", "rb").read()
    if name.endswith(".key"):
        return serialization.load_pem_private_key(data, None)
    return x509.load_pem_x509_certificate(data)

root, root_key = load("root.crt"), load("root.key")
inter, inter_key = load("intermediate.crt"), load("intermediate.key")
now = datetime.datetime.now(datetime.timezone.utc)

def leaf_for(public, cn, issuer, issuer_key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (x509.CertificateBuilder().subject_name(name)
            .issuer_name(issuer.subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .sign(issuer_key, hashes.SHA256()))

tok = pkcs11.lib(module).get_token(token_label=label)
with tok.open(user_pin=pin, rw=True) as s:
    def gen(curve, kid):
        params = s.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True)
        pub, _ = params.generate_keypair(store=True, id=bytes.fromhex(kid), label=curve)
        return serialization.load_der_public_key(encode_ec_public_key(pub))

    def store(cert, kid):
        s.create_object({
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: CertificateType.X_509, Attribute.TOKEN: True,
            Attribute.ID: bytes.fromhex(kid), Attribute.LABEL: f"x5c-{kid}",
            Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            Attribute.SUBJECT: cert.subject.public_bytes(),
        })

    p256 = gen("secp256r1", key_id)
    gen("secp256k1", k1_id)
    chained = gen("secp256r1", chain_id)
    # X5C: root -> leaf for the P-256 key; root -> intermediate -> leaf for the second key
    # (the token stores only the leaf: the intermediate comes from a chain file)
    leaf = leaf_for(p256, "kms-x5c.example.com", root, root_key)
    store(leaf, key_id)
    chained_leaf = leaf_for(chained, "kms-x5c-chain.example.com", inter, inter_key)
    store(chained_leaf, chain_id)
open(outdir + "/x5c-leaf.crt", "wb").write(leaf.public_bytes(pem))
open(outdir + "/x5c-chain-leaf.crt", "wb").write(
    chained_leaf.public_bytes(pem) + inter.public_bytes(pem))
print(p256.public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
"""


def setup_x5c_ca(base: Path) -> Path:
    """Root -> intermediate for the ``kms-x5c`` provisioner, made before the backends
    (files ``root.crt``/``.key``, ``intermediate.crt``/``.key`` in ``<base>/x5c``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.harness.extras.x5c import make_cert

    d = base / "x5c"
    d.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = make_cert("pystep KMS X5C Root", root_key.public_key(), None, root_key, ca=True)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = make_cert("pystep KMS X5C Intermediate", inter_key.public_key(), root, root_key,
                      ca=True)  # fmt: skip
    for name, cert, key in (("root", root, root_key), ("intermediate", inter, inter_key)):
        (d / f"{name}.crt").write_bytes(cert.public_bytes(pem))
        (d / f"{name}.key").write_bytes(key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return d


def x5c_leaf_bundle(x5c_dir: Path, public_pem: str, cn: str, out: Path) -> None:
    """``out``: a leaf for ``public_pem`` issued by the intermediate, then the intermediate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.harness.extras.x5c import make_cert

    inter = x509.load_pem_x509_certificate((x5c_dir / "intermediate.crt").read_bytes())
    inter_key = serialization.load_pem_private_key(
        (x5c_dir / "intermediate.key").read_bytes(), None
    )
    public = serialization.load_pem_public_key(public_pem.encode())
    leaf = make_cert(cn, public, inter, inter_key, ca=False, sign=True)
    pem = serialization.Encoding.PEM
    out.write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem))


def setup_pkcs11(base: Path) -> tuple[Details, str]:
    _need("softhsm2-util")
    module = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
    if module is None:
        raise Missing("libsofthsm2.so not found (Debian package softhsm2)")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        raise Missing("python-pkcs11 is not installed") from None
    d = base / "softhsm"
    (d / "tokens").mkdir(parents=True, exist_ok=True)
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    _run(
        ["softhsm2-util", "--init-token", "--free", "--label", HSM_TOKEN,
         "--pin", HSM_PIN, "--so-pin", HSM_SO_PIN],
        env,
    )  # fmt: skip
    # python-pkcs11 keeps one library per process: a child keeps ours out of pytest's.
    public_pem = _run(
        [sys.executable, "-c", _HSM_SCRIPT, module, HSM_TOKEN, HSM_PIN, HSM_KEY_ID, HSM_K1_ID,
         HSM_CHAIN_ID, str(base / "x5c"), str(d)],
        env,
    )  # fmt: skip
    kms = f"pkcs11:module-path={module};token={HSM_TOKEN}"
    return {
        "env": {"SOFTHSM2_CONF": str(conf)},
        "module": module,
        "token": HSM_TOKEN,
        "pin": HSM_PIN,
        "kms": kms,
        "kms_with_pin": f"{kms}?pin-value={HSM_PIN}",
        "key": f"pkcs11:id=%{HSM_KEY_ID}",
        "k1_key": f"pkcs11:id=%{HSM_K1_ID}",
        "x5c_leaf": str(d / "x5c-leaf.crt"),
        "chain_key": f"pkcs11:id=%{HSM_CHAIN_ID}",
        "x5c_chain_bundle": str(d / "x5c-chain-leaf.crt"),
        "x5c_intermediate": str(base / "x5c" / "intermediate.crt"),
    }, public_pem


# --- ssh-agent ---------------------------------------------------------------------------


def setup_sshagent(base: Path) -> tuple[Details, str]:
    _need("ssh-keygen", "ssh-agent", "ssh-add")
    from cryptography.hazmat.primitives import serialization

    d = base / "ssh"
    d.mkdir(parents=True, exist_ok=True)
    key = d / "id_ecdsa"
    _run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-C", AGENT_COMMENT,
          "-f", str(key)])  # fmt: skip
    public = serialization.load_ssh_public_key(key.with_suffix(".pub").read_bytes())
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"key_file": str(key), "key": f"sshagentkms:{AGENT_COMMENT}"}, pem.decode()


@contextlib.contextmanager
def ssh_agent(key_file: str, sock: Path) -> Iterator[dict[str, str]]:
    """A real ``ssh-agent`` on ``sock`` holding ``key_file``; yields the environment
    (``SSH_AUTH_SOCK``) to use it, and stops the agent afterwards."""
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        deadline = time.monotonic() + 10
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.05)
        subprocess.run(["ssh-add", key_file], env=env, check=True, capture_output=True,
                       timeout=30)  # fmt: skip
        yield {"SSH_AUTH_SOCK": str(sock)}
    finally:
        proc.terminate()
        proc.wait(10)


# --- TPM 2.0 on swtpm --------------------------------------------------------------------

_PRIMARY = [
    "-C", "o", "-g", "sha256", "-G", "ecc256:null:aes128cfb",
    "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt|noda",
]  # fmt: skip


def setup_tpm(base: Path) -> tuple[Details, str]:
    _need("swtpm", "tpm2_createprimary", "tpm2_create", "tpm2_load", "tpm2_readpublic",
          "tpm2_flushcontext", "tpm2_sign")  # fmt: skip
    d = base / "tpm"
    (d / "state").mkdir(parents=True, exist_ok=True)
    storage = d / "keys"
    storage.mkdir(exist_ok=True)
    port = free_port_pair()
    log = d / "swtpm.log"
    _spawn(
        ["swtpm", "socket", "--tpm2",
         "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
         "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
         "--tpmstate", f"dir={d / 'state'}", "--flags", "startup-clear"],
        log,
    )  # fmt: skip
    _wait_port(port, log, "swtpm")
    tcti = f"swtpm:host=127.0.0.1,port={port}"
    env = {**os.environ, "TPM2TOOLS_TCTI": tcti}
    work = d / "work"
    work.mkdir(exist_ok=True)
    pub, priv = storage / f"{TPM_KEY}.pub", storage / f"{TPM_KEY}.priv"
    primary, key_ctx, pem = work / "primary.ctx", work / "key.ctx", work / "key.pem"
    steps = [
        ["tpm2_createprimary", "-Q", *_PRIMARY, "-c", str(primary)],
        ["tpm2_create", "-Q", "-C", str(primary), "-G", "ecc256:ecdsa-sha256",
         "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign",
         "-u", str(pub), "-r", str(priv)],
        ["tpm2_load", "-Q", "-C", str(primary), "-u", str(pub), "-r", str(priv),
         "-c", str(key_ctx)],
        ["tpm2_readpublic", "-Q", "-c", str(key_ctx), "-f", "pem", "-o", str(pem)],
    ]  # fmt: skip
    for argv in steps:  # no resource manager: flush what each tool leaves loaded
        _run(argv, env)
        _run(["tpm2_flushcontext", "-t"], env)
    kms = f"tpmkms:device={tcti};storage-directory={storage}"
    return {"tcti": tcti, "storage": str(storage), "kms": kms,
            "key": f"tpmkms:name={TPM_KEY}"}, pem.read_text()  # fmt: skip


# --- AWS KMS on moto ---------------------------------------------------------------------


def setup_awskms(base: Path) -> tuple[Details, str]:
    try:
        import boto3
        import moto.server  # noqa: F401
    except ImportError:
        raise Missing("boto3 and moto[server] are needed") from None
    from cryptography.hazmat.primitives import serialization

    d = base / "aws"
    d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = d / "moto.log"
    # moto's server, fixed to sign MessageType=DIGEST as AWS does (see _moto_digest.py)
    argv = [sys.executable, "-m", "tests.harness.extras._moto_digest", "-H", "127.0.0.1",
            "-p", str(port)]  # fmt: skip
    repo = str(Path(__file__).resolve().parents[3])
    pythonpath = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH", "")) if p)
    _spawn(argv, log, env={**os.environ, "PYTHONPATH": pythonpath})
    _wait_port(port, log, "moto server", timeout=60)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )

    def create(spec: str) -> str:
        meta = client.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]
        return str(meta["KeyId"])

    key_id, k1_id = create("ECC_NIST_P256"), create("ECC_SECG_P256K1")
    der = client.get_public_key(KeyId=key_id)["PublicKey"]
    pem = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "env": {**AWS_ENV, "AWS_ENDPOINT_URL_KMS": endpoint},
        "kms": f"awskms:region={AWS_ENV['AWS_DEFAULT_REGION']}",
        "key": f"awskms:key-id={key_id}",
        "key_id": key_id,
        "k1_key": f"awskms:key-id={k1_id}",
    }, pem.decode()


# --- the provisioners --------------------------------------------------------------------

SETUPS: dict[str, Callable[[Path], tuple[Details, str]]] = {
    "pkcs11": setup_pkcs11,
    "sshagent": setup_sshagent,
    "tpm": setup_tpm,
    "awskms": setup_awskms,
}


def public_jwk(public_pem: str) -> dict[str, Any]:
    """The provisioner ``key``: public JWK with kid = thumbprint (made with jwcrypto)."""
    from jwcrypto import jwk

    key = jwk.JWK.from_pem(public_pem.encode())
    return {"use": "sig", "alg": "ES256", "kid": key.thumbprint(), **key.export_public(True)}


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    base = workdir / "kms"
    base.mkdir(parents=True, exist_ok=True)
    state: dict[str, Details] = {}
    provs: list[dict[str, Any]] = []
    x5c_dir = setup_x5c_ca(base)
    for name, setup in SETUPS.items():
        try:
            details, pem = setup(base)
        except Missing as exc:
            state[name] = {"missing": str(exc)}
            continue
        except Exception as exc:  # one broken backend must not stop the session CA
            state[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        key = public_jwk(pem)
        if name == "tpm":  # an X5C leaf for the TPM key (certificate from a file)
            details["x5c_bundle"] = str(base / "tpm" / "x5c-leaf.crt")
            x5c_leaf_bundle(x5c_dir, pem, "kms-x5c-tpm.example.com",
                            Path(details["x5c_bundle"]))  # fmt: skip
        details["provisioner"] = f"kms-{name}"
        details["kid"] = key["kid"]
        state[name] = details
        provs.append({"type": "JWK", "name": f"kms-{name}", "key": key,
                      "claims": {"enableSSHCA": True}})  # fmt: skip
    roots = (x5c_dir / "root.crt").read_bytes()
    provs.append({"type": "X5C", "name": "kms-x5c",
                  "roots": base64.b64encode(roots).decode()})  # fmt: skip
    (base / STATE).write_text(json.dumps(state, indent=2) + "\n")
    return provs


def load_state(workdir: Path) -> dict[str, Details]:
    """What :func:`provisioners` wrote for the CA whose work dir is ``workdir``."""
    result: dict[str, Details] = json.loads((workdir / "kms" / STATE).read_text())
    return result


def require(workdir: Path, name: str) -> Details:
    """The details of backend ``name`` for a test; a backend that could not be set up
    fails the test when a tool is missing on CI (CI=true) or on any setup error, and
    skips it when a tool is missing elsewhere."""
    import pytest

    details = load_state(workdir).get(name)
    if details is None:
        pytest.fail(f"kms extras: no state for backend {name}")
    if "error" in details:
        pytest.fail(f"kms extras: {name} setup failed: {details['error']}")
    if "missing" in details:
        message = f"kms extras: {name} unavailable: {details['missing']}"
        from tests.ci import unavailable

        unavailable(message)
    return details

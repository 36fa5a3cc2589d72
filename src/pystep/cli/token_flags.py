"""The flags of ``pystep ca token``: step's flags (latest) plus pystep's own few."""

from __future__ import annotations

from typing import Final, Literal

from pystep.cli.grammar import FlagSpec

B: Final[Literal["bool"]] = "bool"
S: Final[Literal["string"]] = "string"
L: Final[Literal["list"]] = "list"

TOKEN_FLAGS: tuple[FlagSpec, ...] = (
    FlagSpec(("kid",), S, help="The provisioner <kid> to use.", placeholder="kid"),
    FlagSpec(
        ("san",), L, placeholder="dns|ip|email|uri",
        help="Add a DNS name, IP address, email address or URI Subject Alternative Name. "
        "Use the flag multiple times for several SANs. Defaults to the subject.",
    ),
    FlagSpec(
        ("principal", "n"), L, placeholder="name",
        help="Add the principal (user or host name) to the SSH certificate token. "
        "Use the flag multiple times for several principals. Requires --ssh.",
    ),
    FlagSpec(("host",), B, help="Create a token for an SSH host certificate. Requires --ssh."),
    FlagSpec(
        ("ca-config",), S, placeholder="file",
        help="The certificate authority configuration <file> (ca.json) for --offline. "
        "Defaults to $STEPPATH/config/ca.json.",
    ),
    FlagSpec(("f", "force"), B, help="Force the overwrite of files without asking."),
    FlagSpec(
        ("not-before",), S, placeholder="time|duration",
        help="The time|duration when the token's validity period starts: an RFC 3339 time "
        "(\"2025-01-02T03:04:05Z\") or a duration from now (\"1m\", \"-30s\"). "
        "Defaults to now.",
    ),
    FlagSpec(
        ("not-after",), S, placeholder="time|duration",
        help="The time|duration when the token's validity period ends: an RFC 3339 time or a "
        "duration from now (\"10m\"). Defaults to 5 minutes after --not-before. The token may "
        "be valid for 10s to 1h, starting at most 30m in the future.",
    ),
    FlagSpec(
        ("cert-not-before",), S, placeholder="time|duration",
        help="The time|duration when the SSH certificate validity period starts (only "
        "supported on SSH certificates).",
    ),
    FlagSpec(
        ("cert-not-after",), S, placeholder="time|duration",
        help="The time|duration when the SSH certificate validity period ends (only supported "
        "on SSH certificates).",
    ),
    FlagSpec(
        ("provisioner", "issuer"), S, placeholder="name",
        help="The provisioner <name> to use. Without --ca-config in --offline mode, the token "
        "issuer.",
    ),
    FlagSpec(
        ("password-file",), S, placeholder="file",
        help="The path to the <file> containing the password to decrypt the provisioner key "
        "or --key (used when --provisioner-password-file is not given). \"-\" reads stdin.",
    ),
    FlagSpec(
        ("provisioner-password-file",), S, placeholder="file",
        help="The path to the <file> containing the password to decrypt the one-time token "
        "generating key. \"-\" reads stdin.",
    ),
    FlagSpec(
        ("kms",), S, placeholder="uri",
        help="The <uri> to configure a Cloud KMS or an HSM (pkcs11:, yubikey:, tpmkms:, "
        "sshagentkms:, awskms:, cloudkms:, azurekms:; other schemes via step-kms-plugin).",
    ),
    FlagSpec(("x5c-cert",), S, placeholder="file", help="Certificate (chain) in PEM or DER "
             "<file> to store in the 'x5c' header of the token (X5C provisioners, --renew)."),
    FlagSpec(("x5c-chain",), L, placeholder="file", help="Certificate <file> (PEM) or KMS "
             "name whose certificates are appended after --x5c-cert's in the 'x5c' header, "
             "e.g. the intermediates of a leaf read from a token (--x5c-cert pkcs11:...). "
             "Use the flag multiple times for several files. A pystep extension: step has "
             "it on 'ca certificate' and 'ca sign' but not on 'ca token'."),
    FlagSpec(("x5c-key",), S, placeholder="file", help="Private key <file> (or KMS URI) of "
             "the --x5c-cert certificate."),
    FlagSpec(("x5c-insecure",), B, help="Use the 'x5cInsecure' header instead of 'x5c' (the "
             "CA does not verify the chain)."),
    FlagSpec(("sshpop-cert",), S, placeholder="file", help="SSH certificate <file> for the "
             "'sshpop' header (SSHPOP provisioners)."),
    FlagSpec(("sshpop-key",), S, placeholder="file", help="Private key <file> (or KMS URI) of "
             "the --sshpop-cert certificate."),
    FlagSpec(("nebula-cert",), S, placeholder="file", help="Nebula certificate <file> for the "
             "'nebula' header (Nebula provisioners)."),
    FlagSpec(("nebula-key",), S, placeholder="file", help="Private key <file> of the "
             "--nebula-cert certificate."),
    FlagSpec(("cnf",), S, placeholder="fingerprint", help="The <fingerprint> of the CSR to "
             "restrict this token for (cnf claim, x5rt#S256)."),
    FlagSpec(("cnf-file",), S, placeholder="path", help="The CSR <path> to restrict this "
             "token for (PEM or DER); its fingerprint becomes the cnf claim."),
    FlagSpec(("key",), S, placeholder="file", help="The private key <file> (or KMS URI) used to "
             "sign the JWT, instead of the CA's encrypted provisioner key."),
    FlagSpec(("output-file",), S, placeholder="file", help="The destination <file> of the "
             "generated one-time token (mode 0600)."),
    FlagSpec(("revoke",), B, help="Create a token for revoking a certificate (the subject is "
             "the serial number)."),
    FlagSpec(("renew",), B, help="Create a token for renewing a certificate (--x5c-cert and "
             "--x5c-key, or with --ssh an SSHPOP token)."),
    FlagSpec(("rekey",), B, help="Create a token for rekeying an SSH certificate (with --ssh)."),
    FlagSpec(("ssh",), B, help="Create a token for an SSH certificate."),
    FlagSpec(("k8ssa-token-path",), S, placeholder="file",
             default="/var/run/secrets/kubernetes.io/serviceaccount/token",
             help="The <file> holding the Kubernetes service account token (K8sSA "
             "provisioners)."),
    FlagSpec(("offline",), B, help="Create the token without contacting the CA, from "
             "--ca-config (ca.json), or from --key with --issuer."),
    FlagSpec(("ca-url",), S, placeholder="uri", help="<uri> of the targeted Step Certificate "
             "Authority."),
    FlagSpec(("root",), S, placeholder="file", help="The path to the PEM <file> used as the "
             "root certificate authority."),
    FlagSpec(("context",), S, placeholder="name", help="The context <name> to apply for the "
             "given command."),
    FlagSpec(("set",), L, placeholder="key=value", help="The <key=value> pair with template "
             "data (the 'user' claim). Use the flag multiple times for several pairs."),
    FlagSpec(("set-file",), S, placeholder="file", help="The JSON <file> with the template "
             "data (the 'user' claim)."),
    FlagSpec(("console",), B, help="(pystep) OIDC: use the device flow, for machines without "
             "a browser."),
    FlagSpec(("batch",), S, placeholder="file", from_config=False,
             help="(pystep) Mint one token per line of <file> (\"-\" reads stdin): a "
             "subject, or a JSON object with subject, sans, principals, ssh, host, revoke, "
             "not-before, not-after, cert-not-before, cert-not-after, set. Flags give the "
             "defaults; one provisioner lookup and one key decryption for the whole batch."),
    FlagSpec(("format",), S, placeholder="text|json", help="(pystep) Output format: text "
             "(the token) or json ({\"token\", \"header\", \"claims\"}; with --batch one "
             "{\"line\", \"subject\", \"token\", \"expires\"} object per line)."),
    FlagSpec(("fail-fast",), B, help="(pystep) With --batch, stop at the first bad line "
             "(otherwise every line is tried; the exit status is 1 if any failed)."),
    FlagSpec(("non-interactive",), B, help="(pystep) Never prompt; fail naming the flag that "
             "would supply the answer. Also automatic without a terminal."),
)

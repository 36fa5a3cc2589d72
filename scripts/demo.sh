#!/usr/bin/env bash
# The main job, end to end, on a fresh machine:
#   1. start a throwaway real step-ca 0.19 (tests/harness) on a free loopback port,
#   2. `pystep ca token demo.example.com ...` mints a one-time token for the JWK
#      provisioner `admin`,
#   3. exchange the token for a certificate (POST /1.0/sign with a fresh CSR),
#   4. print the certificate, stop the CA, remove the temp dir.
# Needs what scripts/test needs (Debian's golang-go and
# golang-github-smallstep-certificates-dev to build step-ca, or PYSTEP_STEP_CA).
# PYSTEP_CMD overrides how pystep is run (default: python3 -m pystep from src/).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
python="${PYTHON:-python3}"
subject="${1:-demo.example.com}"

if [[ -z "${PYSTEP_STEP_CA:-}" ]]; then
  scripts/build-step-ca.sh
  export PYSTEP_STEP_CA="${PYSTEP_BUILD_DIR:-$repo/.cache}/step-ca"
fi

work="$(mktemp -d -t pystep-demo.XXXXXX)"
ca_pid=""
cleanup() {
  if [[ -n "$ca_pid" ]] && kill -0 "$ca_pid" 2>/dev/null; then
    echo "==> stopping the CA"
    kill -TERM "$ca_pid" 2>/dev/null || true
    wait "$ca_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting a throwaway step-ca ($PYSTEP_STEP_CA) in $work"
"$python" -m tests.harness.stepca up --dir "$work" >"$work/up.log" 2>&1 &
ca_pid=$!
for _ in $(seq 1 600); do
  [[ -s "$work/stepca.json" ]] && break
  if ! kill -0 "$ca_pid" 2>/dev/null; then
    echo "the CA did not start:" >&2
    cat "$work/up.log" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -s "$work/stepca.json" ]] || { echo "the CA did not start in 60s" >&2; cat "$work/up.log" >&2; exit 1; }

field() { "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/stepca.json" "$1"; }
url="$(field url)"
root="$(field root)"
password_file="$(field password_file)"
echo "    CA URL: $url"
echo "    root:   $root (fingerprint $(field fingerprint))"

read -r -a pystep <<<"${PYSTEP_CMD:-$python -m pystep}"
cmd=("${pystep[@]}" ca token "$subject" --ca-url "$url" --root "$root" \
     --provisioner admin --password-file "$password_file")
echo "==> ${cmd[*]}"
token="$(PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}" "${cmd[@]}")"

echo "==> token claims"
"$python" - "$token" <<'PY'
import base64, json, sys
def part(i):
    s = sys.argv[1].split(".")[i]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
print("    header:", json.dumps(part(0), sort_keys=True))
print("    claims:", json.dumps(part(1), sort_keys=True))
PY

echo "==> POST $url/1.0/sign with a fresh EC P-256 CSR"
"$python" - "$url" "$root" "$token" "$subject" <<'PY'
import sys
from tests.harness.client import CAClient
url, root, token, subject = sys.argv[1:5]
result = CAClient(url, root).sign(token, subject)
if result.status != 201 or result.certificate is None:
    sys.exit(f"the CA refused the token: HTTP {result.status}: {result.body}")
cert = result.certificate
print("    HTTP 201: certificate issued")
print("    subject:   ", cert.subject.rfc4514_string())
print("    SANs:      ", ", ".join(result.sans))
print("    issuer:    ", cert.issuer.rfc4514_string())
print("    serial:    ", cert.serial_number)
print("    not before:", cert.not_valid_before_utc.isoformat())
print("    not after: ", cert.not_valid_after_utc.isoformat())
PY
echo "==> done"

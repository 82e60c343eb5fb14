#!/usr/bin/env bash
# The PKCS#11 benchmark (issue 6): our module beside SoftHSMv2 and raw aws-lc-rs.
#
#   scripts/bench.sh            full run (~10 min), regenerates docs/benchmarks.md
#   scripts/bench.sh --smoke    seconds-long run proving the bench still works; writes nothing
#
# Any other arguments go to the bench (see `cargo bench --bench pkcs11 -- --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then
    echo "== installing softhsm2 (Debian)"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends softhsm2 >/dev/null
fi

smoke=false
for arg in "$@"; do
    [ "$arg" = "--smoke" ] && smoke=true
done

# `cargo bench` builds the module (target/release/libcloudhsm_pkcs11.so) with the bench.
if $smoke; then
    exec cargo bench --bench pkcs11 -- "$@"
else
    exec cargo bench --bench pkcs11 -- --out docs/benchmarks.md "$@"
fi

#!/usr/bin/env bash
# Install what the tests need (Debian packages), then run every test: unit and black-box
# (cargo), the quickstart demo, the interop scripts (pkcs11-tests/) and a benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests use, as "command-or-file:Debian package".
needs=(
    pkcs11-tool:opensc
    /usr/lib/softhsm/libsofthsm2.so:softhsm2
    /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so:libengine-pkcs11-openssl
    p11tool:gnutls-bin
    certtool:gnutls-bin
    p11-kit:p11-kit
    openssl:openssl
    curl:curl
    nginx:nginx
    javac:default-jdk-headless
    xxd:xxd
)
missing=()
for n in "${needs[@]}"; do
    what=${n%%:*} pkg=${n##*:}
    if [ "${what#/}" != "$what" ]; then [ -e "$what" ] && continue; else command -v "$what" >/dev/null 2>&1 && continue; fi
    case " ${missing[*]} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

echo "== build"
cargo build --release --lib --bins --examples

echo "== cargo test"
cargo test --release --all-targets

echo "== quickstart demo"
cargo run --release --quiet --example quickstart

if [ -x pkcs11-tests/run-all ]; then
    echo "== interop suite"
    pkcs11-tests/run-all "${CARGO_TARGET_DIR:-target}/release/libcloudhsm_pkcs11.so"
fi

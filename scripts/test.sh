#!/usr/bin/env bash
# Install what the tests need (Debian packages), then run every test: unit and black-box
# (cargo), the quickstart demo, the interop scripts (pkcs11-tests/) and a benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(opensc softhsm2 libengine-pkcs11-openssl gnutls-bin p11-kit openssl curl)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
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

echo "== build"
cargo build --release --lib --bins --examples

echo "== cargo test"
cargo test --release --all-targets

echo "== quickstart demo"
cargo run --release --quiet --example quickstart

if [ -x pkcs11-tests/run-all ]; then
    echo "== interop suite"
    pkcs11-tests/run-all target/release/libcloudhsm_pkcs11.so
fi

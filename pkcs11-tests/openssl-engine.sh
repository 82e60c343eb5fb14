#!/usr/bin/env bash
# OpenSSL 3 with the libp11 engine (libengine-pkcs11-openssl) against the module: an
# openssl.cnf engine section naming the module, keys addressed by pkcs11: URIs (RFC 7512) with
# the PIN in the URI (pin-value=) or given with -passin; pkeyutl sign (RSA PKCS#1, RSA-PSS,
# ECDSA) verified by plain OpenSSL with the public key pkcs11-tool exported; OAEP and PKCS#1
# decrypt; self-signed RSA and ECDSA certificates and a CSR with `req -engine pkcs11 -keyform
# engine`; the same for crypto user cu1 logging in as "cu1:<password>".
#
#   pkcs11-tests/openssl-engine.sh [MODULE]     (default target/release/libcloudhsm_pkcs11.so)
source "$(dirname "$0")/lib.sh" "$@"

ENGINE_SO=${PKCS11_ENGINE:-$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -1)}
require_tools pkcs11-tool openssl "${ENGINE_SO:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}"

D=$WORK/files
mkdir -p "$D"

# The engine section a user puts in openssl.cnf (docs/integrations.md shows the same).
cat >"$D/openssl.cnf" <<EOF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
pkcs11 = pkcs11_section

[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $MODULE
init = 0

[req]
distinguished_name = req_dn
[req_dn]
EOF
export OPENSSL_CONF=$D/openssl.cnf

head -c 1000 /dev/urandom >"$D/data"
head -c 32 /dev/urandom >"$D/secret"
openssl dgst -sha256 -binary "$D/data" >"$D/data.sha256" 2>/dev/null

URI="pkcs11:token=$TOKEN_LABEL"
PINQ="pin-value=$(uri_pin "$USER_PIN")"
CU_PINQ="pin-value=$(uri_pin "$CU_PIN")"
ENG=(-engine pkcs11 -keyform engine)

c_engine() ( set -e
    run_to "$D/engine" openssl engine -t -c pkcs11
    expect_grep 'available' "$D/engine"
)
check "openssl engine -t pkcs11 (the engine loads the module)" c_engine
check "token activated, default crypto user created (pkcs11-tool)" token_init

c_keys() ( set -e  # PIN LABEL-PREFIX ID-PREFIX
    gen_keypair "${3}1" "${2}rsa" rsa:2048 "$1"
    gen_keypair "${3}2" "${2}ec" EC:prime256v1 "$1"
    export_pubkey "${3}1" "$D/${2}rsa.pub.pem" "$1"
    export_pubkey "${3}2" "$D/${2}ec.pub.pem" "$1"
)
check "token keys RSA-2048 (rsa) and EC P-256 (ec), public keys exported" c_keys "$USER_PIN" "" 0

c_pubout() ( set -e
    t openssl pkey "${ENG[@]/-keyform/-inform}" -pubin -in "$URI;object=rsa;type=public" -pubout -out "$D/rsa.engine.pub.pem"
    t openssl pkey "${ENG[@]/-keyform/-inform}" -pubin -in "$URI;object=ec;type=public" -pubout -out "$D/ec.engine.pub.pem"
    same_files "$D/rsa.engine.pub.pem" "$D/rsa.pub.pem"
    same_files "$D/ec.engine.pub.pem" "$D/ec.pub.pem"
)
check "pkey -pubout through the engine equals the exported public keys" c_pubout

# sign KIND KEY PINMODE [PREFIX]: pkeyutl -sign through the engine, verify with plain openssl.
c_sign() ( set -e
    local kind=$1 key=$2 mode=$3 pfx=${4:-} pin=$USER_PIN pinq=$PINQ
    [ -z "$pfx" ] || { pin=$CU_PIN; pinq=$CU_PINQ; }
    local inkey="$URI;object=$pfx$key;type=private" passin=()
    case $mode in
        uri) inkey="$inkey;$pinq" ;;
        passin) passin=(-passin "pass:$pin") ;;
    esac
    local sig=$D/sig.$kind.$mode.$pfx opts=() pub=$D/$pfx$key.pub.pem
    case $kind in
        pkcs1) opts=(-pkeyopt digest:sha256) ;;
        pss) opts=(-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32) ;;
        ecdsa) opts=() ;;
    esac
    t openssl pkeyutl "${ENG[@]}" -sign -inkey "$inkey" "${passin[@]}" -in "$D/data.sha256" -out "$sig" "${opts[@]}"
    case $kind in
        pkcs1 | ecdsa) t openssl dgst -sha256 -verify "$pub" -signature "$sig" "$D/data" ;;
        pss) t openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
            -verify "$pub" -signature "$sig" "$D/data" ;;
    esac
)
check "pkeyutl -sign RSA PKCS#1 v1.5 SHA-256, PIN in the URI; openssl verifies" c_sign pkcs1 rsa uri
check "pkeyutl -sign RSA PKCS#1 v1.5 SHA-256, PIN by -passin; openssl verifies" c_sign pkcs1 rsa passin
check "pkeyutl -sign RSA-PSS SHA-256, PIN in the URI; openssl verifies" c_sign pss rsa uri
check "pkeyutl -sign RSA-PSS SHA-256, PIN by -passin; openssl verifies" c_sign pss rsa passin
check "pkeyutl -sign ECDSA P-256, PIN in the URI; openssl verifies" c_sign ecdsa ec uri
check "pkeyutl -sign ECDSA P-256, PIN by -passin; openssl verifies" c_sign ecdsa ec passin

c_dgst() ( set -e
    t openssl dgst "${ENG[@]}" -sha384 -sign "$URI;object=ec;type=private;$PINQ" -out "$D/dgst.ec.sig" "$D/data"
    t openssl dgst -sha384 -verify "$D/ec.pub.pem" -signature "$D/dgst.ec.sig" "$D/data"
    t openssl dgst "${ENG[@]}" -sha512 -sign "$URI;object=rsa;type=private;$PINQ" -out "$D/dgst.rsa.sig" "$D/data"
    t openssl dgst -sha512 -verify "$D/rsa.pub.pem" -signature "$D/dgst.rsa.sig" "$D/data"
)
check "dgst -sign (ECDSA SHA-384, RSA SHA-512) through the engine; openssl verifies" c_dgst

c_wrong_pin() ( set -e
    if t openssl pkeyutl "${ENG[@]}" -sign -inkey "$URI;object=rsa;type=private" -passin pass:wrong-pin-0000 \
        -in "$D/data.sha256" -out "$D/nosig" -pkeyopt digest:sha256 >"$D/wrongpin" 2>&1; then
        cat "$D/wrongpin"; echo "signed with a wrong PIN"; exit 1
    fi
    cat "$D/wrongpin"
)
check "pkeyutl -sign with a wrong PIN fails" c_wrong_pin

# decrypt MODE MD: openssl encrypts to the exported public key; the engine decrypts.
c_decrypt() ( set -e
    local ct=$D/ct.$1.${2:-} enc=() dec=()
    case $1 in
        oaep) enc=(-pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$2" -pkeyopt "rsa_mgf1_md:$2")
              dec=("${enc[@]}") ;;
        pkcs1) enc=(-pkeyopt rsa_padding_mode:pkcs1); dec=("${enc[@]}") ;;
    esac
    t openssl pkeyutl -encrypt -pubin -inkey "$D/rsa.pub.pem" -in "$D/secret" -out "$ct" "${enc[@]}"
    t openssl pkeyutl "${ENG[@]}" -decrypt -inkey "$URI;object=rsa;type=private;$PINQ" -in "$ct" -out "$ct.dec" "${dec[@]}"
    same_files "$ct.dec" "$D/secret"
)
check "pkeyutl -decrypt RSA-OAEP SHA-1 (openssl encrypted)" c_decrypt oaep sha1
check_unless oaep-sha2 "pkeyutl -decrypt RSA-OAEP SHA-256 (openssl encrypted)" c_decrypt oaep sha256
check "pkeyutl -decrypt RSA PKCS#1 v1.5 (openssl encrypted)" c_decrypt pkcs1

# cert KEY PREFIX PIN: self-signed certificate with the token key, checked by openssl.
c_cert() ( set -e
    local key=$1 pfx=${2:-} pin=${3:-$USER_PIN}
    local crt=$D/$pfx$key.crt
    t openssl req -new -x509 "${ENG[@]}" -key "$URI;object=$pfx$key;type=private" -passin "pass:$pin" \
        -sha256 -days 2 -subj "/CN=$pfx$key.interop.test" -out "$crt"
    t openssl x509 -in "$crt" -noout -subject -issuer -text | head -20
    # the certificate's key is the token key, and its self-signature verifies
    t openssl x509 -in "$crt" -noout -pubkey >"$crt.pub"
    same_files "$crt.pub" "$D/$pfx$key.pub.pem"
    t openssl verify -CAfile "$crt" "$crt"
)
check "req -x509 -engine pkcs11 -keyform engine: self-signed RSA certificate" c_cert rsa
check "req -x509 -engine pkcs11 -keyform engine: self-signed ECDSA certificate" c_cert ec

c_csr() ( set -e
    for key in rsa ec; do
        t openssl req -new "${ENG[@]}" -key "$URI;object=$key;type=private;$PINQ" -sha256 \
            -subj "/CN=csr-$key.interop.test" -out "$D/$key.csr"
        t openssl req -in "$D/$key.csr" -noout -verify -subject
        t openssl req -in "$D/$key.csr" -noout -pubkey >"$D/$key.csr.pub"
        same_files "$D/$key.csr.pub" "$D/$key.pub.pem"
    done
)
check "req -new -engine pkcs11: RSA and ECDSA CSRs, signatures verified" c_csr

# --- crypto user cu1 (CloudHSM PIN form "cu1:<password>"), last: on SoftHSM it replaces the
# single user PIN ------------------------------------------------------------------------------
check "crypto user $CU_NAME created through the SO (C_InitPIN \"$CU_NAME:<pw>\")" add_crypto_user
check "$CU_NAME: token keys RSA-2048 and EC P-256" c_keys "$CU_PIN" "$CU_NAME-" a
check "$CU_NAME: pkeyutl -sign RSA PKCS#1, PIN \"$CU_NAME:<pw>\" by -passin" c_sign pkcs1 rsa passin "$CU_NAME-"
check "$CU_NAME: pkeyutl -sign RSA-PSS, PIN \"$CU_NAME:<pw>\" in the URI (%3A)" c_sign pss rsa uri "$CU_NAME-"
check "$CU_NAME: pkeyutl -sign ECDSA, PIN \"$CU_NAME:<pw>\" in the URI (%3A)" c_sign ecdsa ec uri "$CU_NAME-"
check "$CU_NAME: req -x509 self-signed ECDSA certificate" c_cert ec "$CU_NAME-" "$CU_PIN"

finish

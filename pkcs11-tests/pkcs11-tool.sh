#!/usr/bin/env bash
# pkcs11-tool (OpenSC) against the module, the way a user drives a token from the shell:
# activate the token and create the crypto user, list slots and mechanisms, generate RSA
# 2048/3072/4096, EC P-256/P-384/P-521 and AES keys, sign with every signing mechanism the
# token offers and verify each signature with plain OpenSSL and the exported public key,
# encrypt/decrypt, wrap/unwrap, read objects, persistence across processes, `--test`,
# `--test-fork`, and the same flow for crypto user cu1 logging in as "cu1:<password>".
#
#   pkcs11-tests/pkcs11-tool.sh [MODULE]     (default target/release/libcloudhsm_pkcs11.so)
source "$(dirname "$0")/lib.sh" "$@"
require_tools pkcs11-tool openssl xxd

D=$WORK/files
mkdir -p "$D"
head -c 1000 /dev/urandom >"$D/data"          # the message every signature covers
head -c 32 /dev/urandom >"$D/data32"          # short input for raw RSA-PKCS
openssl dgst -sha256 -binary "$D/data" >"$D/data.sha256" 2>/dev/null
openssl dgst -sha384 -binary "$D/data" >"$D/data.sha384" 2>/dev/null
openssl dgst -sha512 -binary "$D/data" >"$D/data.sha512" 2>/dev/null

# Object IDs (hex) and labels.
RSA_KEYS="01:rsa2048:rsa:2048 02:rsa3072:rsa:3072 03:rsa4096:rsa:4096"
EC_KEYS="11:ec256:EC:prime256v1 12:ec384:EC:secp384r1 13:ec521:EC:secp521r1"
AES_ID=21            # token-generated AES-256
AES_KNOWN_ID=22      # AES-256 imported with a value we know, for OpenSSL cross-checks
KEK_KNOWN_ID=24      # AES-256 key-encryption key with a known value
TARGET_ID=25         # extractable AES key to be wrapped
UNWRAPPED_ID=26
UNWRAPPED_RSA_ID=27
HMAC_ID=28           # generic secret generated on the token, extractable and not sensitive
# pkcs11-tool 0.23 selects the key of --sign/--verify/--decrypt by --id only (it ignores
# --label there), so every key has a distinct ID.
declare -A KID=([rsa2048]=01 [rsa3072]=02 [rsa4096]=03 [ec256]=11 [ec384]=12 [ec521]=13)

hex() { xxd -p -c 256 "$1" | tr -d '\n'; }
# openssl digest name for a mechanism's hash part (SHA1/SHA-1/SHA224/...)
md_of() {
    case $1 in
        *SHA1* | *SHA-1*) echo sha1 ;;
        *SHA224*) echo sha224 ;;
        *SHA256*) echo sha256 ;;
        *SHA384*) echo sha384 ;;
        *SHA512*) echo sha512 ;;
        *) return 1 ;;
    esac
}
# pkcs11-tool's --hash-algorithm / --mgf names for an openssl digest name
p11_hash() { case $1 in sha1) echo SHA-1 ;; *) echo "$1" | tr a-z A-Z ;; esac; }
p11_mgf() { case $1 in sha1) echo MGF1-SHA1 ;; *) echo "MGF1-$(echo "$1" | tr a-z A-Z)" ;; esac; }

# --- activation and listing ------------------------------------------------------------------

c_info() ( set -e
    run_to "$D/info" pkcs11-tool --module "$MODULE" --show-info
    expect_grep 'Cryptoki version' "$D/info"
)
check "show-info (C_GetInfo)" c_info

c_fresh() ( set -e
    run_to "$D/slots0" pkcs11-tool --module "$MODULE" --list-slots
    expect_grep 'uninitialized' "$D/slots0"
)
check "list-slots: a fresh store is an uninitialized token" c_fresh

check "init-token --label $TOKEN_LABEL --so-pin <so>" p11 --init-token --label "$TOKEN_LABEL" --so-pin "$SO_PIN"
check "init-pin in an SO session (default crypto user)" \
    p11 --token-label "$TOKEN_LABEL" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"

c_slots() ( set -e
    run_to "$D/slots1" pkcs11-tool --module "$MODULE" --list-token-slots
    expect_grep "token label +: $TOKEN_LABEL\$" "$D/slots1"
    expect_grep 'token flags +:.*token initialized' "$D/slots1"
    expect_grep 'token flags +:.*PIN initialized' "$D/slots1"
)
check "list-token-slots: label and flags after activation" c_slots

c_login_wrong() ( set -e
    if p11 --token-label "$TOKEN_LABEL" --login --pin wrong-pin-0000 --list-objects >"$D/wrong" 2>&1; then
        echo "login with a wrong PIN succeeded"; cat "$D/wrong"; exit 1
    fi
    cat "$D/wrong"
    expect_grep 'CKR_PIN_INCORRECT' "$D/wrong"
)
check "login with a wrong PIN -> CKR_PIN_INCORRECT" c_login_wrong

c_mechs() ( set -e
    run_to "$D/mechs" pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --list-mechanisms
    for m in RSA-PKCS-KEY-PAIR-GEN 'ECDSA-KEY-PAIR-GEN|EC-KEY-PAIR-GEN' AES-KEY-GEN RSA-PKCS ECDSA SHA256-RSA-PKCS AES-GCM; do
        expect_grep "^  ($m)," "$D/mechs"
    done
)
check "list-mechanisms" c_mechs
[ -s "$D/mechs" ] || : >"$D/mechs"
# offered MECH FLAG: the token lists MECH with FLAG (sign, decrypt, wrap, ...)
offered() { grep -Eq "^  $1,.*[ ,]$2(,|\$)" "$D/mechs"; }
mechs_with() { grep -E "^  [^ ]+,.*[ ,]$1(,|\$)" "$D/mechs" | sed -E 's/^  ([^,]+),.*/\1/'; }

# --- key generation -----------------------------------------------------------------------

c_keypair() ( set -e  # ID LABEL KEYTYPE BITS-REGEX
    gen_keypair "$1" "$2" "$3"
    export_pubkey "$1" "$D/$2.pub.pem" | tee "$D/$2.pub.txt"
    expect_grep "$4" "$D/$2.pub.txt"
)
for k in $RSA_KEYS; do
    IFS=: read -r id label kt bits <<<"$k"
    check "keypairgen RSA-$bits ($label), public key read back and parsed by openssl" \
        c_keypair "$id" "$label" "$kt:$bits" "\($bits bit\)"
done
for k in $EC_KEYS; do
    IFS=: read -r id label kt curve <<<"$k"
    case $curve in prime256v1) bits=256 ;; secp384r1) bits=384 ;; secp521r1) bits=521 ;; esac
    check "keypairgen EC $curve ($label), public key read back and parsed by openssl" \
        c_keypair "$id" "$label" "$kt:$curve" "\($bits bit\)|$curve|P-$bits"
done

c_aes() ( set -e
    p11_user --keygen --key-type AES:32 --id $AES_ID --label aes256
    p11_user --list-objects --type secrkey >"$D/secr" 2>&1
    cat "$D/secr"
    expect_grep 'label: +aes256' "$D/secr"
)
check "keygen AES-256 (aes256)" c_aes

# Keys with values we know, for cross-checks with OpenSSL.
head -c 32 /dev/urandom >"$D/aes.known"
head -c 32 /dev/urandom >"$D/kek.known"
head -c 32 /dev/urandom >"$D/target.known"
check "write-object: import an AES-256 secret key" \
    p11_user --write-object "$D/aes.known" --type secrkey --key-type AES:32 --id $AES_KNOWN_ID \
    --label aes-known --usage-decrypt --sensitive --private

# --- persistence ----------------------------------------------------------------------------

c_persist() ( set -e
    # A new process (each pkcs11-tool run is one) sees every object the earlier ones made.
    p11_user --list-objects >"$D/objects" 2>&1
    cat "$D/objects"
    for l in rsa2048 rsa3072 rsa4096 ec256 ec384 ec521 aes256 aes-known; do
        expect_grep "label: +$l\$" "$D/objects"
    done
    expect_grep '^Private Key Object; RSA' "$D/objects"
    expect_grep '^Private Key Object; EC' "$D/objects"
    expect_grep '^Public Key Object; RSA 2048' "$D/objects"
    expect_grep '^Secret Key Object; AES' "$D/objects"
)
check "list-objects in a new process shows every key made before" c_persist

c_public_only() ( set -e
    # Without login: public objects only (aes-known was imported with CKA_PRIVATE true).
    p11 --token-label "$TOKEN_LABEL" --list-objects >"$D/objects.public" 2>&1
    cat "$D/objects.public"
    expect_grep '^Public Key Object; RSA' "$D/objects.public"
    expect_no_grep '^Private Key Object' "$D/objects.public"
    expect_no_grep 'label: +aes-known$' "$D/objects.public"
)
check "list-objects without login: public objects only" c_public_only

c_read() ( set -e
    # CKA_VALUE of a sensitive key must not be readable.
    if p11_user --read-object --type secrkey --id $AES_ID -o "$D/leak" >"$D/read.out" 2>&1 && [ -s "$D/leak" ]; then
        echo "sensitive AES key value was read"; exit 1
    fi
    cat "$D/read.out"
    # The public key read back equals what the token computes as CKA_PUBLIC_KEY_INFO / modulus.
    p11_user --read-object --type pubkey --label rsa2048 -o "$D/rsa2048.bylabel.der"
    same_files "$D/rsa2048.bylabel.der" "$D/rsa2048.pub.pem.der"
)
check "read-object: public key by label; sensitive secret key value refused" c_read

# --- sign with every offered mechanism, verify with OpenSSL --------------------------------

# sign_verify MECH KEYLABEL: sign on the token, verify with openssl and the exported key.
sign_verify() ( set -e
    local mech=$1 key=$2 md
    local pub=$D/$key.pub.pem sig=$D/sig.$mech.$key
    md=$(md_of "$mech" || true)
    case $mech in
        RSA-PKCS)
            p11_user --sign -m RSA-PKCS --id "${KID[$key]}" -i "$D/data32" -o "$sig"
            t openssl pkeyutl -verify -pubin -inkey "$pub" -in "$D/data32" -sigfile "$sig" \
                -pkeyopt rsa_padding_mode:pkcs1 ;;
        RSA-X-509)
            # A modulus-sized block below the modulus: a leading zero byte.
            { printf '\0'; head -c 255 "$D/data"; } >"$D/block256"
            p11_user --sign -m RSA-X-509 --id "${KID[$key]}" -i "$D/block256" -o "$sig"
            t openssl pkeyutl -verifyrecover -pubin -inkey "$pub" -in "$sig" \
                -pkeyopt rsa_padding_mode:none -out "$D/recovered"
            same_files "$D/recovered" "$D/block256" ;;
        RSA-PKCS-PSS)
            p11_user --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 \
                --id "${KID[$key]}" -i "$D/data.sha256" -o "$sig"
            t openssl pkeyutl -verify -pubin -inkey "$pub" -in "$D/data.sha256" -sigfile "$sig" \
                -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 \
                -pkeyopt rsa_pss_saltlen:digest -pkeyopt rsa_mgf1_md:sha256 ;;
        SHA*-RSA-PKCS)
            p11_user --sign -m "$mech" --id "${KID[$key]}" -i "$D/data" -o "$sig"
            t openssl dgst "-$md" -verify "$pub" -signature "$sig" "$D/data" ;;
        SHA*-RSA-PKCS-PSS)
            # pkcs11-tool's defaults: MGF1 with the mechanism's hash, salt = hash length
            p11_user --sign -m "$mech" --id "${KID[$key]}" -i "$D/data" -o "$sig"
            t openssl dgst "-$md" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
                -sigopt rsa_mgf1_md:"$md" -verify "$pub" -signature "$sig" "$D/data" ;;
        ECDSA)
            p11_user --sign -m ECDSA --signature-format openssl --id "${KID[$key]}" \
                -i "$D/data.sha256" -o "$sig"
            t openssl pkeyutl -verify -pubin -inkey "$pub" -in "$D/data.sha256" -sigfile "$sig" ;;
        ECDSA-SHA*)
            p11_user --sign -m "$mech" --signature-format openssl --id "${KID[$key]}" -i "$D/data" -o "$sig"
            t openssl dgst "-$md" -verify "$pub" -signature "$sig" "$D/data" ;;
        *-HMAC)
            p11_user --sign -m "$mech" --id $HMAC_ID -i "$D/data" -o "$sig"
            t openssl dgst "-$md" -mac HMAC -macopt "hexkey:$(hex "$D/hmac.value")" -binary \
                -out "$D/hmac.expected" "$D/data"
            same_files "$sig" "$D/hmac.expected" ;;
        *) echo "no cross-check for $mech"; exit 1 ;;
    esac
)

c_hmac_key() ( set -e
    # pkcs11-tool 0.23 cannot import a generic secret (--write-object: "Unknown key type
    # 0x10"), so the token generates an extractable, non-sensitive one and we read its value.
    p11_user --keygen --key-type GENERIC:64 --id $HMAC_ID --label hmac --extractable
    p11_user --read-object --type secrkey --id $HMAC_ID -o "$D/hmac.value"
    [ "$(stat -c %s "$D/hmac.value")" -eq 64 ]
)
if mechs_with sign | grep -q 'HMAC$'; then
    check "keygen GENERIC:64 (HMAC key, extractable) and read its value" c_hmac_key
fi

signers=$(mechs_with sign)
[ -n "$signers" ] || check "the token offers signing mechanisms" false
for mech in $signers; do
    case $mech in
        RSA-PKCS | RSA-X-509 | RSA-PKCS-PSS | SHA*-RSA-PKCS-PSS | SHA*-RSA-PKCS)
            check "sign $mech (rsa2048), verified by openssl" sign_verify "$mech" rsa2048
            if [ "$mech" = SHA256-RSA-PKCS ] || [ "$mech" = SHA256-RSA-PKCS-PSS ]; then
                check "sign $mech (rsa3072), verified by openssl" sign_verify "$mech" rsa3072
                check "sign $mech (rsa4096), verified by openssl" sign_verify "$mech" rsa4096
            fi ;;
        ECDSA)
            for key in ec256 ec384 ec521; do
                check "sign ECDSA ($key), verified by openssl" sign_verify ECDSA "$key"
            done ;;
        ECDSA-SHA*)
            check "sign $mech (ec256), verified by openssl" sign_verify "$mech" ec256
            case $mech in
                ECDSA-SHA384) check "sign $mech (ec384), verified by openssl" sign_verify "$mech" ec384 ;;
                ECDSA-SHA512) check "sign $mech (ec521), verified by openssl" sign_verify "$mech" ec521 ;;
            esac ;;
        SHA-1-HMAC | SHA224-HMAC | SHA256-HMAC | SHA384-HMAC | SHA512-HMAC)
            check "sign $mech (token key read back), equal to openssl's MAC" sign_verify "$mech" - ;;
        *) note "$mech offers sign; pkcs11-tool/openssl have no cross-check for it here (not counted)" ;;
    esac
done

c_verify_token() ( set -e  # MECH KEY INPUT [FORMAT]
    local sig=$D/sig.$1.$2
    p11_user --verify -m "$1" --id "${KID[$2]}" -i "$3" --signature-file "$sig" ${4:+--signature-format $4}
)
offered SHA256-RSA-PKCS sign &&
    check "verify SHA256-RSA-PKCS on the token" c_verify_token SHA256-RSA-PKCS rsa2048 "$D/data"
offered ECDSA sign &&
    check "verify ECDSA on the token (P-256)" c_verify_token ECDSA ec256 "$D/data.sha256" openssl

c_verify_bad() ( set -e
    local sig=$D/sig.SHA256-RSA-PKCS.rsa2048
    cp "$sig" "$D/bad.sig"
    printf '\x55' | dd of="$D/bad.sig" bs=1 seek=10 conv=notrunc status=none
    if p11_user --verify -m SHA256-RSA-PKCS --id 01 -i "$D/data" --signature-file "$D/bad.sig" >"$D/bad.out" 2>&1; then
        cat "$D/bad.out"
        grep -q 'Invalid signature' "$D/bad.out" || { echo "a corrupted signature verified"; exit 1; }
    fi
    cat "$D/bad.out"
    expect_grep 'CKR_SIGNATURE_INVALID|Invalid signature' "$D/bad.out"
)
offered SHA256-RSA-PKCS sign &&
    check "verify on the token rejects a corrupted signature (CKR_SIGNATURE_INVALID)" c_verify_bad

# --- encrypt / decrypt ------------------------------------------------------------------------

# RSA: OpenSSL encrypts to the exported public key, the token decrypts.
c_rsa_decrypt() ( set -e  # MECH [MD]
    local ct=$D/ct.$1.${2:-}
    case $1 in
        RSA-PKCS)
            t openssl pkeyutl -encrypt -pubin -inkey "$D/rsa2048.pub.pem" -in "$D/data32" -out "$ct" \
                -pkeyopt rsa_padding_mode:pkcs1
            p11_user --decrypt -m RSA-PKCS --id 01 -i "$ct" -o "$ct.dec" ;;
        RSA-PKCS-OAEP)
            t openssl pkeyutl -encrypt -pubin -inkey "$D/rsa2048.pub.pem" -in "$D/data32" -out "$ct" \
                -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:"$2" -pkeyopt rsa_mgf1_md:"$2"
            p11_user --decrypt -m RSA-PKCS-OAEP --hash-algorithm "$(p11_hash "$2")" --mgf "$(p11_mgf "$2")" \
                --id 01 -i "$ct" -o "$ct.dec" ;;
        RSA-X-509)
            { printf '\0'; head -c 255 "$D/data"; } >"$D/block256"
            t openssl pkeyutl -encrypt -pubin -inkey "$D/rsa2048.pub.pem" -in "$D/block256" -out "$ct" \
                -pkeyopt rsa_padding_mode:none
            p11_user --decrypt -m RSA-X-509 --id 01 -i "$ct" -o "$ct.dec"
            # Raw RSA returns the modulus-sized block (leading zero kept or not: compare the tail).
            tail -c 255 "$ct.dec" >"$ct.dec.tail"; tail -c 255 "$D/block256" >"$ct.want"
            same_files "$ct.dec.tail" "$ct.want"
            exit 0 ;;
    esac
    same_files "$ct.dec" "$D/data32"
)
offered RSA-PKCS decrypt && check "decrypt RSA-PKCS (openssl encrypted to the public key)" c_rsa_decrypt RSA-PKCS
if offered RSA-PKCS-OAEP decrypt; then
    check "decrypt RSA-PKCS-OAEP SHA-1 (openssl encrypted)" c_rsa_decrypt RSA-PKCS-OAEP sha1
    check_unless oaep-sha2 "decrypt RSA-PKCS-OAEP SHA-256 (openssl encrypted)" c_rsa_decrypt RSA-PKCS-OAEP sha256
fi
offered RSA-X-509 decrypt && check "decrypt RSA-X-509 (openssl raw-encrypted)" c_rsa_decrypt RSA-X-509

# AES: pkcs11-tool 0.23 encrypts with AES-ECB, AES-CBC and AES-CBC-PAD.
IV=000102030405060708090a0b0c0d0e0f
c_aes_known() ( set -e  # MECH
    local in=$D/data out=$D/aes.$1
    case $1 in AES-ECB | AES-CBC) head -c 992 "$D/data" >"$D/data992"; in=$D/data992 ;; esac
    local ivopt=(--iv "$IV") oiv=(-iv "$IV") cipher
    case $1 in
        AES-ECB) ivopt=(); oiv=(); cipher=aes-256-ecb ;;
        AES-CBC) cipher=aes-256-cbc ;;
        AES-CBC-PAD) cipher=aes-256-cbc ;;
    esac
    p11_user --encrypt -m "$1" --id $AES_KNOWN_ID "${ivopt[@]}" -i "$in" -o "$out"
    local nopad=()
    [ "$1" = AES-CBC-PAD ] || nopad=(-nopad)
    t openssl enc -d "-$cipher" -K "$(hex "$D/aes.known")" "${oiv[@]}" "${nopad[@]}" -in "$out" -out "$out.dec"
    same_files "$out.dec" "$in"
    # and back: openssl encrypts, the token decrypts
    t openssl enc -e "-$cipher" -K "$(hex "$D/aes.known")" "${oiv[@]}" "${nopad[@]}" -in "$in" -out "$out.o"
    p11_user --decrypt -m "$1" --id $AES_KNOWN_ID "${ivopt[@]}" -i "$out.o" -o "$out.o.dec"
    same_files "$out.o.dec" "$in"
)
c_aes_roundtrip() ( set -e
    p11_user --encrypt -m AES-CBC-PAD --id $AES_ID --iv $IV -i "$D/data" -o "$D/aes256.ct"
    p11_user --decrypt -m AES-CBC-PAD --id $AES_ID --iv $IV -i "$D/aes256.ct" -o "$D/aes256.dec"
    same_files "$D/aes256.dec" "$D/data"
)
for mech in AES-ECB AES-CBC AES-CBC-PAD; do
    offered "$mech" encrypt && check "encrypt/decrypt $mech (imported key), matching openssl enc" c_aes_known "$mech"
done
offered AES-CBC-PAD encrypt && check "encrypt+decrypt AES-CBC-PAD with the token-generated AES-256 key" c_aes_roundtrip
for mech in $(mechs_with decrypt); do
    case $mech in
        RSA-PKCS | RSA-PKCS-OAEP | RSA-X-509 | AES-ECB | AES-CBC | AES-CBC-PAD) ;;
        *) note "$mech offers decrypt; pkcs11-tool 0.23 cannot drive it (not counted)" ;;
    esac
done

# --- wrap / unwrap ---------------------------------------------------------------------------

c_wrap_keys() ( set -e
    p11_user --write-object "$D/kek.known" --type secrkey --key-type AES:32 --id $KEK_KNOWN_ID \
        --label kek-known --usage-wrap --sensitive
    p11_user --write-object "$D/target.known" --type secrkey --key-type AES:32 --id $TARGET_ID \
        --label wrap-target --usage-decrypt --extractable --sensitive
)
# wrap_unwrap MECH: the token wraps a key OpenSSL then unwraps; OpenSSL wraps a key the token
# then unwraps and uses.
c_wrap() ( set -e
    local mech=$1 w=$D/wrapped.$1
    case $mech in
        # 0x210A CKM_AES_KEY_WRAP_PAD (2.40; RFC 5649 in SoftHSM), 0x210B CKM_AES_KEY_WRAP_KWP
        # (3.0, RFC 5649): pkcs11-tool 0.23 knows neither name.
        AES-KEY-WRAP | AES-KEY-WRAP-PAD | 0x210A | 0x210B)
            local ossl="id-aes256-wrap" oiv=(-iv A6A6A6A6A6A6A6A6) m=$mech
            case $mech in AES-KEY-WRAP-PAD | 0x210A | 0x210B) ossl="id-aes256-wrap-pad"; oiv=(-iv A65959A6) ;; esac
            p11_user --wrap -m "$m" --id $KEK_KNOWN_ID --application-id $TARGET_ID -o "$w"
            t openssl enc -d "-$ossl" -K "$(hex "$D/kek.known")" "${oiv[@]}" -in "$w" -out "$w.plain"
            same_files "$w.plain" "$D/target.known"
            t openssl enc -e "-$ossl" -K "$(hex "$D/kek.known")" "${oiv[@]}" -in "$D/aes.known" -out "$w.o"
            p11_user --unwrap -m "$m" --id $KEK_KNOWN_ID -i "$w.o" --key-type AES: \
                --application-id $UNWRAPPED_ID --application-label "unwrapped-$mech" ;;
        RSA-PKCS | RSA-PKCS-OAEP)
            local pad=pkcs1
            [ "$mech" = RSA-PKCS ] || pad=oaep
            t openssl pkeyutl -encrypt -pubin -inkey "$D/rsa2048.pub.pem" -in "$D/aes.known" -out "$w.o" \
                -pkeyopt rsa_padding_mode:$pad
            p11_user --unwrap -m "$mech" --id 01 -i "$w.o" --key-type AES: \
                --application-id $UNWRAPPED_RSA_ID --application-label "unwrapped-$mech" ;;
        *) echo "no test for $mech"; exit 1 ;;
    esac
    # the unwrapped key is the known AES key: encrypt with it, decrypt with openssl
    local uid=$UNWRAPPED_ID
    case $mech in RSA-*) uid=$UNWRAPPED_RSA_ID ;; esac
    p11_user --encrypt -m AES-CBC-PAD --id $uid --iv $IV -i "$D/data" -o "$w.use"
    t openssl enc -d -aes-256-cbc -K "$(hex "$D/aes.known")" -iv $IV -in "$w.use" -out "$w.use.dec"
    same_files "$w.use.dec" "$D/data"
    p11_user --delete-object --type secrkey --id $uid
)
wrappers=$(mechs_with wrap | grep -E '^(AES-KEY-WRAP|AES-KEY-WRAP-PAD|mechtype-0x210A|mechtype-0x210B|RSA-PKCS|RSA-PKCS-OAEP)$' || true)
if [ -z "$wrappers" ]; then
    check "the token offers a wrap/unwrap mechanism (AES-KEY-WRAP[-PAD], RSA-PKCS[-OAEP])" false
else
    check "write-object: a key-encryption key and an extractable key to wrap" c_wrap_keys
    for mech in $wrappers; do
        case $mech in mechtype-*) mech=${mech#mechtype-} ;; esac
        if [ "$mech" = RSA-PKCS-OAEP ]; then
            note "RSA-PKCS-OAEP offers wrap; pkcs11-tool 0.23 passes no OAEP parameters to C_UnwrapKey (not counted)"
            continue
        fi
        if [ "$mech" = RSA-PKCS ]; then
            offered "$mech" unwrap || continue
            check "unwrap $mech (openssl-wrapped AES key), then use it" c_wrap "$mech"
        else
            check "wrap $mech (openssl unwraps) and unwrap (token), then use it" c_wrap "$mech"
        fi
    done
fi

# --- digests, random, the built-in tests --------------------------------------------------

c_hash() ( set -e
    p11 --token-label "$TOKEN_LABEL" --hash -m SHA256 -i "$D/data" -o "$D/hash.p11"
    same_files "$D/hash.p11" "$D/data.sha256"
)
offered SHA256 digest && check "hash SHA256 equals openssl's" c_hash

c_random() ( set -e
    p11 --token-label "$TOKEN_LABEL" --generate-random 64 -o "$D/random"
    [ "$(stat -c %s "$D/random")" -eq 64 ]
)
check "generate-random 64 bytes" c_random

check_unless oaep-sha2 "--test --login (pkcs11-tool's self test)" p11 --token-label "$TOKEN_LABEL" --test --login --pin "$USER_PIN"
check_unless fork "--test-fork (C_Initialize in a forked child)" p11 --token-label "$TOKEN_LABEL" --test-fork

# --- crypto user cu1, CloudHSM PIN form "cu1:<password>" (last: on SoftHSM it replaces the
# single user PIN) ----------------------------------------------------------------------------

check "init-pin \"$CU_NAME:<pw>\" in an SO session creates crypto user $CU_NAME" add_crypto_user

c_cu() ( set -e
    gen_keypair a1 cu1-rsa rsa:2048 "$CU_PIN"
    gen_keypair a2 cu1-ec EC:prime256v1 "$CU_PIN"
    p11_cu --keygen --key-type AES:32 --id a3 --label cu1-aes
    export_pubkey a1 "$D/cu1-rsa.pub.pem" "$CU_PIN"
    export_pubkey a2 "$D/cu1-ec.pub.pem" "$CU_PIN"
)
check "$CU_NAME: keypairgen RSA-2048, EC P-256, keygen AES-256" c_cu

c_cu_sign() ( set -e
    p11_cu --sign -m SHA256-RSA-PKCS --id a1 -i "$D/data" -o "$D/cu1.rsa.sig"
    t openssl dgst -sha256 -verify "$D/cu1-rsa.pub.pem" -signature "$D/cu1.rsa.sig" "$D/data"
    p11_cu --sign -m ECDSA --signature-format openssl --id a2 -i "$D/data.sha256" -o "$D/cu1.ec.sig"
    t openssl pkeyutl -verify -pubin -inkey "$D/cu1-ec.pub.pem" -in "$D/data.sha256" -sigfile "$D/cu1.ec.sig"
    p11_cu --encrypt -m AES-CBC-PAD --id a3 --iv $IV -i "$D/data" -o "$D/cu1.aes"
    p11_cu --decrypt -m AES-CBC-PAD --id a3 --iv $IV -i "$D/cu1.aes" -o "$D/cu1.aes.dec"
    same_files "$D/cu1.aes.dec" "$D/data"
)
check "$CU_NAME: sign RSA and ECDSA (verified by openssl), AES encrypt/decrypt" c_cu_sign

c_cu_list() ( set -e
    p11_cu --list-objects >"$D/cu1.objects" 2>&1
    cat "$D/cu1.objects"
    for l in cu1-rsa cu1-ec cu1-aes; do expect_grep "label: +$l\$" "$D/cu1.objects"; done
)
check "$CU_NAME: list-objects in a new process shows $CU_NAME's keys" c_cu_list

if [ "$MODULE_KIND" = cloudhsm ]; then
    # class:label per object of a pkcs11-tool --list-objects listing
    obj_list() { awk '/ Object/ { cls = $1 } /^  label:/ { sub(/^  label: +/, ""); print cls ":" $0 }' "$1"; }
    c_isolation() ( set -e
        # A token key belongs to the crypto user who made it.
        p11_user --list-objects >"$D/user.objects" 2>&1
        obj_list "$D/cu1.objects" >"$D/cu1.list"
        obj_list "$D/user.objects" >"$D/user.list"
        echo "== $CU_NAME sees:"; cat "$D/cu1.list"; echo "== the default user sees:"; cat "$D/user.list"
        expect_grep '^Private:rsa2048$' "$D/user.list"
        expect_no_grep '^(Private|Secret):(rsa|ec|aes)[0-9]+$' "$D/cu1.list"
        expect_no_grep '^(Private|Secret):cu1-' "$D/user.list"
    )
    check "$CU_NAME and the default user see only their own private and secret keys" c_isolation
else
    note "per-user key ownership is not checked on $MODULE_KIND (one user per token)"
fi

finish

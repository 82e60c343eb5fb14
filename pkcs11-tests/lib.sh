# Shared helpers for the interop scripts in pkcs11-tests/. Sourced, never run.
#
#   source "$(dirname "$0")/lib.sh" "$@"      # first argument: the PKCS#11 module (optional)
#
# Gives each script: the module path ($MODULE) and its kind ($MODULE_KIND: cloudhsm or
# softhsm), a throw-away work directory ($WORK) holding the store, the logs and every file
# the script writes, `check "name" cmd...` (one line per check), `require_tools`, `free_port`,
# `start_server`/`stop_server` (by pid), and `finish` (prints "N passed, N failed").
#
# Every external command a check runs goes through `timeout`, every wait loop is bounded in
# count and time, servers are stopped by pid in an EXIT trap, and the work directory (logs
# included) is kept whenever a check failed.

set -u
set -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/.." && pwd)
SCRIPT_NAME=$(basename "$0" .sh)

MODULE=${1:-$REPO_ROOT/target/release/libcloudhsm_pkcs11.so}
case $MODULE in /*) ;; *) MODULE=$PWD/$MODULE ;; esac

# Which module we drive. Anything with "softhsm" in its file name is SoftHSMv2 (the reference
# the scripts were developed against); everything else is ours. PKCS11_TESTS_KIND overrides.
if [ -n "${PKCS11_TESTS_KIND:-}" ]; then
    MODULE_KIND=$PKCS11_TESTS_KIND
else
    case $(basename "$MODULE") in
        *softhsm*) MODULE_KIND=softhsm ;;
        *) MODULE_KIND=cloudhsm ;;
    esac
fi

# Credentials every script uses. The crypto user CU_NAME logs in with CloudHSM's PIN form
# "name:password" ($CU_PIN), which every client passes through unchanged.
TOKEN_LABEL=${TOKEN_LABEL:-interop}
SO_PIN=so-pass-1234
USER_PIN=user-pass-1234
CU_NAME=cu1
CU_PIN=$CU_NAME:cu1-pass-5678

# Upper bound, in seconds, for any single external command run by a check.
CMD_TIMEOUT=${CMD_TIMEOUT:-180}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pkcs11-tests.$SCRIPT_NAME.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS"
PASSED=0
FAILED=0
CHECK_NO=0
MISSING_TOOLS=()
SERVER_PIDS=()

# ---------------------------------------------------------------------------------------------
# The only module-specific code: where a throw-away store lives and which environment variables
# carry it ($MODULE_ENV_VARS, so servers that scrub their environment, like nginx workers, can
# be told to keep them). Token activation is the same PKCS#11 flow for both (token_init).
MODULE_ENV_VARS=()
# shellcheck disable=SC2034  # MODULE_ENV_VARS is read by the scripts (nginx.sh)
module_store_env() {
    local dir=$1
    mkdir -p "$dir"
    case $MODULE_KIND in
        cloudhsm)
            # No config file: one embedded slot on $CLOUDHSM_HOME.
            unset CLOUDHSM_PKCS11_CONF
            export CLOUDHSM_HOME=$dir
            MODULE_ENV_VARS=(CLOUDHSM_HOME)
            ;;
        softhsm)
            mkdir -p "$dir/tokens"
            printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
                "$dir/tokens" >"$dir/softhsm2.conf"
            export SOFTHSM2_CONF=$dir/softhsm2.conf
            MODULE_ENV_VARS=(SOFTHSM2_CONF)
            ;;
        *)
            echo "unknown module kind '$MODULE_KIND' (cloudhsm or softhsm)" >&2
            exit 2
            ;;
    esac
}

# module_gap WHAT: succeed when the module is known to lack WHAT. Checks guarded by it
# (check_unless) print SKIP and count nowhere. Only the SoftHSMv2 reference has gaps; ours
# must pass everything.
module_gap() {
    case $MODULE_KIND:$1 in
        softhsm:oaep-sha2) return 0 ;;   # SoftHSM 2.6 decrypts RSA-OAEP with SHA-1 only
        softhsm:fork) return 0 ;;        # SoftHSM 2.6 answers C_Initialize in a forked child
                                         # with CKR_CRYPTOKI_ALREADY_INITIALIZED
    esac
    return 1
}
# ---------------------------------------------------------------------------------------------

module_store_env "$WORK/store"

echo "# $SCRIPT_NAME: module $MODULE ($MODULE_KIND), work dir $WORK"
if [ ! -r "$MODULE" ]; then
    echo "# module not found: $MODULE"
    MISSING_TOOLS+=("module:$MODULE")
fi

# require_tools TOOL...: note which tools are missing. Once one is, every check of the script
# is counted as failed without running (the script installs nothing itself).
require_tools() {
    local t
    for t in "$@"; do
        case $t in
            /*) [ -e "$t" ] || MISSING_TOOLS+=("$t") ;;
            *) command -v "$t" >/dev/null 2>&1 || MISSING_TOOLS+=("$t") ;;
        esac
    done
    if [ ${#MISSING_TOOLS[@]} -gt 0 ]; then
        echo "# MISSING: ${MISSING_TOOLS[*]} -- every check below is counted as failed"
    fi
}

# t CMD...: run an external command bounded by $CMD_TIMEOUT seconds (as $RUN_AS, if set).
RUN_AS=()
t() {
    timeout -k 5 "$CMD_TIMEOUT" "${RUN_AS[@]}" "$@"
}

# run_unprivileged: from now on run every client (and so the module) as an unprivileged user
# when the script runs as root, with the store and HOME handed over to that user. p11-kit
# ignores user configuration (~/.config/pkcs11) in programs running as root, and the system
# configuration is not ours to change. Call it before the first check.
UNPRIV_UID=${UNPRIV_UID:-65534}
run_unprivileged() {
    [ "$(id -u)" -eq 0 ] || return 0
    command -v setpriv >/dev/null || { MISSING_TOOLS+=(setpriv); return 0; }
    mkdir -p "$WORK/home" "$WORK/files"
    chmod 711 "$WORK"
    chown -R "$UNPRIV_UID:$UNPRIV_UID" "$WORK/store" "$WORK/home" "$WORK/files"
    RUN_AS=(setpriv "--reuid=$UNPRIV_UID" "--regid=$UNPRIV_UID" --clear-groups)
    echo "# running the clients as uid $UNPRIV_UID (p11-kit reads no user config as root)"
}

# check "name" CMD...: run CMD (a command or a shell function) with its output in a log file;
# print one line "ok   name" or "FAIL name" (plus the log's tail). Returns CMD's status.
# Multi-step bodies are written as subshell functions with `set -e`: `f() ( set -e; ... )`.
check() {
    local name=$1
    shift
    CHECK_NO=$((CHECK_NO + 1))
    local log
    log=$LOGS/$(printf '%03d' "$CHECK_NO")-$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-60).log
    if [ ${#MISSING_TOOLS[@]} -gt 0 ]; then
        FAILED=$((FAILED + 1))
        echo "FAIL $name (not run: missing ${MISSING_TOOLS[*]})"
        return 1
    fi
    echo "\$ $*" >"$log"
    # Not inside `||`/`if`: a check body written as `f() ( set -e; ... )` keeps its `set -e`
    # (so never call `check` itself as an if/while/&&/|| condition either).
    "$@" >>"$log" 2>&1 </dev/null
    local rc=$?
    if [ $rc -eq 0 ]; then
        PASSED=$((PASSED + 1))
        echo "ok   $name"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $name (exit $rc, log $log)"
        tail -n 12 "$log" | awk '{ print "       | " $0 }'
    fi
    return $rc
}

# check_unless GAP "name" CMD...: check, unless the module is known to lack GAP (SKIP line).
check_unless() {
    local gap=$1
    shift
    if module_gap "$gap"; then
        echo "SKIP $1 ($MODULE_KIND lacks: $gap; not counted)"
        return 0
    fi
    check "$@"
}

# note "text": an informational line, not a check.
note() {
    echo "# $*"
}

# Helpers for use inside checks -------------------------------------------------------------

# expect_grep PATTERN FILE: succeed when FILE has a line matching the extended regex PATTERN.
expect_grep() {
    if grep -Eq -- "$1" "$2"; then return 0; fi
    echo "expected /$1/ in $2, which holds:"
    head -c 4000 "$2"
    return 1
}

# expect_no_grep PATTERN FILE
expect_no_grep() {
    if ! grep -Eq -- "$1" "$2"; then return 0; fi
    echo "unexpected /$1/ in $2:"
    grep -E -- "$1" "$2" | head -20
    return 1
}

# run_to FILE CMD...: run CMD (bounded), its stdout+stderr to FILE and to the check log.
run_to() {
    local out=$1
    shift
    local rc=0
    t "$@" >"$out" 2>&1 || rc=$?
    cat "$out"
    return $rc
}

# same_files A B
same_files() {
    if cmp "$1" "$2"; then return 0; fi
    echo "files differ: $1 $2"
    return 1
}

# pkcs11-tool on the module, bounded.
p11() {
    t pkcs11-tool --module "$MODULE" "$@"
}
# ... on the test token, logged in as the default crypto user / as $CU_NAME.
p11_user() {
    p11 --token-label "$TOKEN_LABEL" --login --pin "$USER_PIN" "$@"
}
p11_cu() {
    p11 --token-label "$TOKEN_LABEL" --login --pin "$CU_PIN" "$@"
}

# token_init: activate the fresh store (SO PIN = admin password) and create the default
# crypto user. Identical for both modules: the PKCS#11 way.
token_init() {
    p11 --init-token --label "$TOKEN_LABEL" --so-pin "$SO_PIN" &&
        p11 --token-label "$TOKEN_LABEL" --login --login-type so --so-pin "$SO_PIN" \
            --init-pin --pin "$USER_PIN"
}

# add_crypto_user: create crypto user $CU_NAME through the SO (C_InitPIN with "cu1:<pw>").
# On SoftHSM (one user per token) this replaces the user PIN, which is why each script runs
# its cu1 part last.
add_crypto_user() {
    p11 --token-label "$TOKEN_LABEL" --login --login-type so --so-pin "$SO_PIN" \
        --init-pin --pin "$CU_PIN"
}

# gen_keypair ID LABEL KEYTYPE [PIN]: a token key pair (pkcs11-tool --key-type syntax).
gen_keypair() {
    p11 --token-label "$TOKEN_LABEL" --login --pin "${4:-$USER_PIN}" --keypairgen \
        --key-type "$3" --id "$1" --label "$2" --usage-sign --usage-decrypt
}

# export_pubkey ID OUT.pem [PIN]: read the public key object and convert it to PEM.
export_pubkey() {
    local pin=${3:-$USER_PIN}
    if ! p11 --token-label "$TOKEN_LABEL" --login --pin "$pin" --read-object \
        --type pubkey --id "$1" -o "$2.der"; then
        # pkcs11-tool 0.23 fails on some EC keys ("cannot create EVP_PKEY" for P-384): build
        # the SubjectPublicKeyInfo from CKA_EC_PARAMS and CKA_EC_POINT as listed.
        echo "pkcs11-tool --read-object failed; building the EC public key from its attributes"
        ec_spki "$1" "$pin" "$2.der" || return 1
    fi
    t openssl pkey -pubin -inform DER -in "$2.der" -out "$2" &&
        t openssl pkey -pubin -in "$2" -noout -text | head -3
}

# DER length octets (hex) for N bytes.
der_len() {
    if [ "$1" -lt 128 ]; then printf '%02x' "$1"
    elif [ "$1" -lt 256 ]; then printf '81%02x' "$1"
    else printf '82%04x' "$1"; fi
}
# ec_spki ID PIN OUT.der: SubjectPublicKeyInfo of the EC public key ID from its attributes.
ec_spki() {
    local listing params point
    listing=$(p11 --token-label "$TOKEN_LABEL" --login --pin "$2" --list-objects --type pubkey --id "$1" 2>/dev/null) || return 1
    # pkcs11-tool lists every public key whatever --id says: pick the block with our ID.
    local pick='/ Object;/ { pt = ""; pa = "" } /EC_POINT:/ { pt = $2 } /EC_PARAMS:/ { pa = $2 }
        /^  ID:/ && $2 == id { print (what == "point" ? pt : pa); exit }'
    params=$(awk -v id="$1" -v what=params "$pick" <<<"$listing")
    point=$(awk -v id="$1" -v what=point "$pick" <<<"$listing")
    [ -n "$params" ] && [ -n "$point" ] || { echo "no EC_PARAMS/EC_POINT for id $1"; return 1; }
    # CKA_EC_POINT is a DER OCTET STRING holding the point: strip its header.
    case ${point:2:2} in
        81) point=${point:6} ;;
        82) point=${point:8} ;;
        *) point=${point:4} ;;
    esac
    local alg="06072a8648ce3d0201$params" bits="00$point"
    alg="30$(der_len $((${#alg} / 2)))$alg"
    bits="03$(der_len $((${#bits} / 2)))$bits"
    local body="$alg$bits"
    printf '30%s%s' "$(der_len $((${#body} / 2)))" "$body" | xxd -r -p >"$3"
}

# slot_index LABEL: the index of the token's slot in C_GetSlotList(CK_TRUE) order (what Java's
# slotListIndex means). Printed on stdout.
slot_index() {
    t pkcs11-tool --module "$MODULE" --list-token-slots 2>/dev/null |
        awk -v want="$1" '
            /^Slot [0-9]+ / { idx = $2 }
            /token label/ { sub(/^[^:]*: /, ""); sub(/[ \t]+$/, ""); if ($0 == want) { print idx; exit } }'
}

# URI-encode a PIN for pin-value= in a pkcs11: URI.
uri_pin() {
    local s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            [A-Za-z0-9._~-]) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

# free_port: print a TCP port on 127.0.0.1 that nobody listens on (bounded tries).
free_port() {
    local i port hex
    for ((i = 0; i < 50; i++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        hex=$(printf '%04X' "$port")
        if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{print $2}' | grep -qi ":$hex\$"; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# wait_port PORT SECONDS [PID]: wait (bounded) until something accepts on 127.0.0.1:PORT;
# give up early if process PID has exited.
wait_port() {
    local port=$1 deadline=$((SECONDS + $2)) pid=${3:-} i
    for ((i = 0; i < 10 * $2 + 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            echo "process $pid exited before listening on 127.0.0.1:$port"
            return 1
        fi
        [ $SECONDS -lt $deadline ] || break
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port after $2 s"
    return 1
}

# start_server PIDVAR LOG CMD...: start CMD in the background (its own process group), record
# its pid in PIDVAR and in the list the EXIT trap stops.
start_server() {
    local var=$1 log=$2
    shift 2
    set -m
    "$@" >"$log" 2>&1 </dev/null &
    local pid=$!
    set +m
    SERVER_PIDS+=("$pid")
    printf -v "$var" '%s' "$pid"
    echo "started pid $pid: $*"
}

# stop_server PID: TERM, wait up to 10 s, then KILL; by pid (and its process group) only.
stop_server() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        stop_server "$pid"
    done
    if [ "$FAILED" -eq 0 ] && [ "${KEEP_WORK:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        echo "# logs kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT TERM

# finish: the summary line, and the exit status (non-zero on any failure or no check at all).
finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}

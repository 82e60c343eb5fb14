#!/usr/bin/env bash
# NGINX TLS offload to the module through the libp11 engine: nginx on 127.0.0.1 (a free port)
# with two workers and an RSA and an ECDSA token key given as
#   ssl_certificate_key "engine:pkcs11:pkcs11:token=...;object=...;type=private;pin-value=...";
# (the master loads the module and the keys, then forks the workers, which re-initialise it);
# TLS 1.2 and 1.3 handshakes with curl and `openssl s_client` for each signature scheme (RSA
# PKCS#1 in TLS 1.2, RSA-PSS, ECDSA); a bounded load run (`openssl s_time -new`, at least 1,000
# full handshakes) with nothing at error level or worse in nginx's error log and the rate
# printed; nginx stopped by its pid; then the same server with crypto user cu1's key and the
# PIN "cu1:<password>".
#
#   pkcs11-tests/nginx.sh [MODULE]     (default target/release/libcloudhsm_pkcs11.so)
source "$(dirname "$0")/lib.sh" "$@"

ENGINE_SO=${PKCS11_ENGINE:-$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -1)}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
require_tools pkcs11-tool openssl curl "$NGINX" "${ENGINE_SO:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}"

LOAD_SECONDS=${LOAD_SECONDS:-10}   # each load run; bounded
LOAD_MIN=${LOAD_MIN:-1000}         # full handshakes required per load run
D=$WORK/files
N=$WORK/nginx
mkdir -p "$D" "$N/tmp"

# init = 1: nginx calls ENGINE_load_private_key() without ENGINE_init(), so the engine must be
# initialised when the configuration loads.
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
init = 1

[req]
distinguished_name = req_dn
[req_dn]
EOF
export OPENSSL_CONF=$D/openssl.cnf
URI="pkcs11:token=$TOKEN_LABEL"

# nginx.conf for a key pair (LABEL-PREFIX PIN PORT). nginx scrubs its workers' environment:
# `env` keeps what the module and the engine need.
write_conf() {
    local pfx=$1 pin=$2 port=$3 conf=$N/nginx.$4.conf var
    {
        [ "$(id -u)" -ne 0 ] || echo "user root;"
        echo "worker_processes 2;"
        echo "master_process on;"
        echo "daemon off;"
        echo "pid $N/nginx.$4.pid;"
        echo "error_log $N/error.$4.log notice;"
        echo "env OPENSSL_CONF;"
        for var in "${MODULE_ENV_VARS[@]}"; do echo "env $var;"; done
        cat <<EOF
events { worker_connections 512; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fastcgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        ssl_certificate $D/${pfx}rsa.crt;
        ssl_certificate_key "engine:pkcs11:$URI;object=${pfx}rsa;type=private;pin-value=$(uri_pin "$pin")";
        ssl_certificate $D/${pfx}ec.crt;
        ssl_certificate_key "engine:pkcs11:$URI;object=${pfx}ec;type=private;pin-value=$(uri_pin "$pin")";
        location / { return 200 "hello from the token\n"; }
    }
}
EOF
    } >"$conf"
}

c_keys() ( set -e  # PIN LABEL-PREFIX ID-PREFIX
    gen_keypair "${3}1" "${2}rsa" rsa:2048 "$1"
    gen_keypair "${3}2" "${2}ec" EC:prime256v1 "$1"
    local key
    for key in rsa ec; do
        t openssl req -new -x509 -engine pkcs11 -keyform engine \
            -key "$URI;object=$2$key;type=private" -passin "pass:$1" -sha256 -days 2 \
            -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -out "$D/$2$key.crt"
    done
    cat "$D/${2}rsa.crt" "$D/${2}ec.crt" >"$D/${2}ca.pem"
)

NGINX_PID=
c_start() ( set -e  # NAME PORT
    "$NGINX" -t -p "$N" -c "$N/nginx.$1.conf" -e "$N/error.$1.log"
    exit 0
)
# start_nginx NAME PORT: start (not in a subshell: the pid must reach the EXIT trap).
start_nginx() {
    start_server NGINX_PID "$N/stdout.$1.log" "$NGINX" -p "$N" -c "$N/nginx.$1.conf" -e "$N/error.$1.log"
    wait_port "$2" 30 "$NGINX_PID" || { cat "$N/error.$1.log" "$N/stdout.$1.log"; return 1; }
    kill -0 "$NGINX_PID" || return 1
}
c_workers() ( set -e
    local kids
    kids=$(cat "/proc/$NGINX_PID/task/$NGINX_PID/children")
    echo "master $NGINX_PID, workers: $kids"
    [ "$(wc -w <<<"$kids")" -ge 2 ]
)

# s_client PORT TLSVER SIGALGS EXPECTED-PEER-SIGTYPE CA
c_sclient() ( set -e
    local out=$D/sclient.$2.$3
    t openssl s_client -connect "127.0.0.1:$1" -servername localhost "-$2" -sigalgs "$3" \
        -CAfile "$5" -verify_return_error -brief </dev/null >"$out" 2>&1 || { cat "$out"; exit 1; }
    cat "$out"
    expect_grep "^Protocol version: $(sed 's/tls1_/TLSv1./' <<<"$2")\$" "$out"
    expect_grep "^(Peer signature type|Signature type): $4\$" "$out"
    expect_grep 'Verification: OK' "$out"
)
# curl PORT TLS-OPTIONS... : an HTTPS request, certificate checked
c_curl() ( set -e
    local port=$1
    shift
    t curl -sS --max-time 20 --cacert "$CA" --resolve "localhost:$port:127.0.0.1" "$@" \
        -w '\n%{ssl_verify_result}\n' -o "$D/curl.body" "https://localhost:$port/" >"$D/curl.out" 2>&1 ||
        { cat "$D/curl.out"; exit 1; }
    cat "$D/curl.body" "$D/curl.out"
    grep -q 'hello from the token' "$D/curl.body"
)
# s_time PORT SECONDS TLSVER CIPHER/SIGALG-OPTIONS...: bounded load run of full handshakes
c_load() ( set -e
    local port=$1 secs=$2
    shift 2
    local start=$SECONDS
    timeout -k 5 $((secs + 60)) openssl s_time -connect "127.0.0.1:$port" -new -time "$secs" "$@" \
        >"$D/stime" 2>&1 || true
    local wall=$((SECONDS - start))
    tr -d '*' <"$D/stime"
    local n real
    n=$(awk '/connections in .*real seconds/ { print $1; exit }' "$D/stime")
    real=$(awk '/connections in .*real seconds/ { print $4; exit }' "$D/stime")
    [ -n "$n" ] && [ "${real:-0}" -gt 0 ] || { echo "no count from s_time"; exit 1; }
    echo "LOAD: $n full handshakes in ${real}s: $((n / real)) handshakes/s (wall ${wall}s)"
    [ "$n" -ge "$LOAD_MIN" ] || { echo "fewer than $LOAD_MIN handshakes"; exit 1; }
)
c_errlog() ( set -e
    local log=$N/error.$1.log
    echo "== $log:"; tail -n 20 "$log"
    expect_no_grep '\[(error|crit|alert|emerg)\]' "$log"
)
# c_stop PID: runs in the script's shell (nginx is its child, so it can be reaped).
c_stop() {
    local pid=$1 kids
    kids=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
    echo "stopping nginx master $pid (workers: $kids)"
    stop_server "$pid"
    local p
    for p in $pid $kids; do
        if kill -0 "$p" 2>/dev/null; then echo "process $p still running"; return 1; fi
    done
}

check "token activated, default crypto user created (pkcs11-tool)" token_init
check "token keys RSA-2048 and EC P-256, self-signed certificates (engine)" c_keys "$USER_PIN" "" 0
CA=$D/ca.pem
PORT=$(free_port || echo 0)
write_conf "" "$USER_PIN" "$PORT" main
check "nginx -t accepts the engine:pkcs11 keys" c_start main "$PORT"
check "nginx started on 127.0.0.1:$PORT (2 workers)" start_nginx main "$PORT"
check "nginx master forked 2 workers" c_workers

check "s_client TLS 1.2, RSA PKCS#1 v1.5 (rsa_pkcs1_sha256)" c_sclient "$PORT" tls1_2 RSA+SHA256 RSA "$CA"
check "s_client TLS 1.2, RSA-PSS (rsa_pss_rsae_sha256)" c_sclient "$PORT" tls1_2 rsa_pss_rsae_sha256 RSA-PSS "$CA"
check "s_client TLS 1.3, RSA-PSS (rsa_pss_rsae_sha256)" c_sclient "$PORT" tls1_3 rsa_pss_rsae_sha256 RSA-PSS "$CA"
check "s_client TLS 1.2, ECDSA (ecdsa_secp256r1_sha256)" c_sclient "$PORT" tls1_2 ECDSA+SHA256 ECDSA "$CA"
check "s_client TLS 1.3, ECDSA (ecdsa_secp256r1_sha256)" c_sclient "$PORT" tls1_3 ecdsa_secp256r1_sha256 ECDSA "$CA"
check "curl TLS 1.2, ECDHE-RSA" c_curl "$PORT" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256
check "curl TLS 1.2, ECDHE-ECDSA" c_curl "$PORT" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
check "curl TLS 1.3" c_curl "$PORT" --tlsv1.3

check "load: s_time -new ${LOAD_SECONDS}s TLS 1.3 RSA-PSS, >= $LOAD_MIN handshakes" \
    c_load "$PORT" "$LOAD_SECONDS" -tls1_3 -CAfile "$CA"
note "$(grep -h '^LOAD:' "$LOGS"/*load* 2>/dev/null | tail -1)"
check "load: s_time -new ${LOAD_SECONDS}s TLS 1.2 ECDHE-ECDSA, >= $LOAD_MIN handshakes" \
    c_load "$PORT" "$LOAD_SECONDS" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -CAfile "$CA"
note "$(grep -h '^LOAD:' "$(ls "$LOGS"/*load* 2>/dev/null | tail -1)" 2>/dev/null)"
check "nginx error log: nothing at error level or worse" c_errlog main
check "nginx stopped by pid" c_stop "$NGINX_PID"

# --- crypto user cu1, PIN "cu1:<password>" in the key URIs ----------------------------------
check "crypto user $CU_NAME created through the SO (C_InitPIN \"$CU_NAME:<pw>\")" add_crypto_user
check "$CU_NAME: token keys and certificates" c_keys "$CU_PIN" "$CU_NAME-" a
CA=$D/$CU_NAME-ca.pem
PORT2=$(free_port || echo 0)
write_conf "$CU_NAME-" "$CU_PIN" "$PORT2" cu
check "$CU_NAME: nginx started with pin-value=$CU_NAME%3A<pw>" start_nginx cu "$PORT2"
check "$CU_NAME: s_client TLS 1.3 RSA-PSS" c_sclient "$PORT2" tls1_3 rsa_pss_rsae_sha256 RSA-PSS "$CA"
check "$CU_NAME: curl TLS 1.2 ECDHE-ECDSA" c_curl "$PORT2" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
check "$CU_NAME: nginx error log clean" c_errlog cu
check "$CU_NAME: nginx stopped by pid" c_stop "$NGINX_PID"

finish

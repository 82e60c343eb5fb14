#!/usr/bin/env bash
# Java 17 SunPKCS11 against the module: a provider configuration naming the module, `keytool
# -list -storetype PKCS11`, and a small program (compiled with javac at run time) that signs
# with token keys (SHA256withRSA, RSASSA-PSS, SHA256withECDSA) verified by the JDK's software
# providers, encrypts with a token AES key (AES/GCM/NoPadding, AES/CBC/PKCS5Padding, checked
# against SunJCE with an imported key of known value), and generates keys on the token
# (KeyPairGenerator RSA/EC, KeyGenerator AES); then the same as crypto user cu1 with the PIN
# "cu1:<password>".
#
#   pkcs11-tests/java.sh [MODULE]     (default target/release/libcloudhsm_pkcs11.so)
source "$(dirname "$0")/lib.sh" "$@"
require_tools pkcs11-tool openssl java javac keytool xxd

D=$WORK/files
J=$WORK/java
mkdir -p "$D" "$J/classes"

# The test program. Arguments: provider-config PIN label-prefix known-aes-key-hex.
# Prints one line per test: "ok NAME" or "FAIL NAME: reason".
cat >"$J/Interop.java" <<'EOF'
import java.security.*;
import java.security.cert.Certificate;
import java.security.spec.*;
import java.util.*;
import javax.crypto.*;
import javax.crypto.spec.*;

public class Interop {
    interface Test { void run() throws Exception; }
    static int failed = 0;

    static void test(String name, Test t) {
        try {
            t.run();
            System.out.println("ok " + name);
        } catch (Throwable e) {
            failed++;
            System.out.println("FAIL " + name + ": " + e);
            Throwable c = e.getCause();
            while (c != null) { System.out.println("  caused by: " + c); c = c.getCause(); }
        }
        System.out.flush();
    }
    static void require(boolean ok, String what) { if (!ok) throw new AssertionError(what); }

    static Provider p;
    static KeyStore ks;
    static byte[] data = new byte[3000];

    static void signVerify(String alg, AlgorithmParameterSpec spec, PrivateKey priv,
                           PublicKey pub, String verifier) throws Exception {
        Signature s = Signature.getInstance(alg, p);
        if (spec != null) s.setParameter(spec);
        s.initSign(priv);
        s.update(data);
        byte[] sig = s.sign();
        Signature v = Signature.getInstance(alg, verifier);
        if (spec != null) v.setParameter(spec);
        v.initVerify(pub);
        v.update(data);
        require(v.verify(sig), alg + " signature made on the token does not verify in " + verifier);
        byte[] bad = sig.clone();
        bad[bad.length / 2] ^= 1;
        v.initVerify(pub);
        v.update(data);
        boolean badOk;
        try { badOk = v.verify(bad); } catch (SignatureException e) { badOk = false; }
        require(!badOk, "a corrupted signature verified");
    }

    static byte[] run(Cipher c, int mode, Key k, AlgorithmParameterSpec spec, byte[] in, byte[] aad)
            throws Exception {
        c.init(mode, k, spec);
        if (aad != null) c.updateAAD(aad);
        return c.doFinal(in);
    }

    // Token encrypts / software decrypts and back, for an AES key whose value we know.
    static void aesCross(String transform, Key token, SecretKeySpec soft) throws Exception {
        boolean gcm = transform.contains("GCM");
        byte[] iv = new byte[gcm ? 12 : 16];
        new SecureRandom().nextBytes(iv);
        AlgorithmParameterSpec spec = gcm ? new GCMParameterSpec(128, iv) : new IvParameterSpec(iv);
        byte[] aad = gcm ? "header".getBytes() : null;
        Cipher tc = Cipher.getInstance(transform, p);
        Cipher sc = Cipher.getInstance(transform, "SunJCE");
        byte[] ct = run(tc, Cipher.ENCRYPT_MODE, token, spec, data, aad);
        require(Arrays.equals(run(sc, Cipher.DECRYPT_MODE, soft, spec, ct, aad), data),
                "SunJCE does not decrypt the token's " + transform + " ciphertext");
        byte[] iv2 = iv.clone();
        iv2[0] ^= 1;  // a fresh IV for the other direction (GCM forbids reuse)
        AlgorithmParameterSpec spec2 = gcm ? new GCMParameterSpec(128, iv2) : new IvParameterSpec(iv2);
        byte[] ct2 = run(sc, Cipher.ENCRYPT_MODE, soft, spec2, data, aad);
        require(Arrays.equals(run(tc, Cipher.DECRYPT_MODE, token, spec2, ct2, aad), data),
                "the token does not decrypt SunJCE's " + transform + " ciphertext");
        if (gcm) {
            ct2[5] ^= 1;
            boolean rejected = false;
            try { run(tc, Cipher.DECRYPT_MODE, token, spec2, ct2, aad); }
            catch (AEADBadTagException e) { rejected = true; }
            require(rejected, "a tampered GCM ciphertext decrypted");
        }
    }

    static void aesRoundTrip(String transform, Key token) throws Exception {
        boolean gcm = transform.contains("GCM");
        byte[] iv = new byte[gcm ? 12 : 16];
        new SecureRandom().nextBytes(iv);
        AlgorithmParameterSpec spec = gcm ? new GCMParameterSpec(128, iv) : new IvParameterSpec(iv);
        Cipher c = Cipher.getInstance(transform, p);
        byte[] ct = run(c, Cipher.ENCRYPT_MODE, token, spec, data, null);
        require(!Arrays.equals(Arrays.copyOf(ct, data.length), data), "ciphertext equals plaintext");
        require(Arrays.equals(run(c, Cipher.DECRYPT_MODE, token, spec, ct, null), data),
                transform + " round trip on the token failed");
    }

    public static void main(String[] args) throws Exception {
        String cfg = args[0], pin = args[1], pfx = args[2];
        byte[] known = HexFormat.of().parseHex(args[3]);
        new Random(7).nextBytes(data);

        test("provider configured", () -> {
            p = Security.getProvider("SunPKCS11").configure(cfg);
            require(p != null, "no provider");
        });
        test("keystore login with the PIN", () -> {
            ks = KeyStore.getInstance("PKCS11", p);
            ks.load(null, pin.toCharArray());
        });
        test("keystore lists the token keys", () -> {
            List<String> aliases = Collections.list(ks.aliases());
            System.out.println("  aliases: " + aliases);
            require(ks.isKeyEntry(pfx + "rsa") && ks.getCertificate(pfx + "rsa") != null, "no RSA key entry");
            require(ks.isKeyEntry(pfx + "ec") && ks.getCertificate(pfx + "ec") != null, "no EC key entry");
            require(ks.getKey(pfx + "aes", null) instanceof SecretKey, "no AES secret key entry");
        });
        test("Signature SHA256withRSA (token key), verified by SunRsaSign", () -> signVerify("SHA256withRSA", null,
            (PrivateKey) ks.getKey(pfx + "rsa", null), ks.getCertificate(pfx + "rsa").getPublicKey(), "SunRsaSign"));
        test("Signature RSASSA-PSS SHA-256 (token key), verified by SunRsaSign", () -> signVerify("RSASSA-PSS",
            new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1),
            (PrivateKey) ks.getKey(pfx + "rsa", null), ks.getCertificate(pfx + "rsa").getPublicKey(), "SunRsaSign"));
        test("Signature SHA256withECDSA (token key), verified by SunEC", () -> signVerify("SHA256withECDSA", null,
            (PrivateKey) ks.getKey(pfx + "ec", null), ks.getCertificate(pfx + "ec").getPublicKey(), "SunEC"));
        test("Cipher AES/GCM/NoPadding round trip (token AES-256 key)", () ->
            aesRoundTrip("AES/GCM/NoPadding", ks.getKey(pfx + "aes", null)));
        test("Cipher AES/CBC/PKCS5Padding round trip (token AES-256 key)", () ->
            aesRoundTrip("AES/CBC/PKCS5Padding", ks.getKey(pfx + "aes", null)));
        test("Cipher AES/GCM/NoPadding (imported key) matches SunJCE both ways", () ->
            aesCross("AES/GCM/NoPadding", ks.getKey(pfx + "aes-known", null), new SecretKeySpec(known, "AES")));
        test("Cipher AES/CBC/PKCS5Padding (imported key) matches SunJCE both ways", () ->
            aesCross("AES/CBC/PKCS5Padding", ks.getKey(pfx + "aes-known", null), new SecretKeySpec(known, "AES")));
        test("KeyPairGenerator RSA 2048 on the token, SHA256withRSA verified by SunRsaSign", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA", p);
            g.initialize(2048);
            KeyPair kp = g.generateKeyPair();
            require(kp.getPrivate().getFormat() == null, "the private key left the token");
            signVerify("SHA256withRSA", null, kp.getPrivate(), kp.getPublic(), "SunRsaSign");
        });
        test("KeyPairGenerator EC secp256r1 on the token, SHA256withECDSA verified by SunEC", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC", p);
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair kp = g.generateKeyPair();
            signVerify("SHA256withECDSA", null, kp.getPrivate(), kp.getPublic(), "SunEC");
        });
        test("KeyGenerator AES 256 on the token, AES/GCM round trip", () -> {
            KeyGenerator g = KeyGenerator.getInstance("AES", p);
            g.init(256);
            SecretKey k = g.generateKey();
            aesRoundTrip("AES/GCM/NoPadding", k);
        });
        test("SecureRandom from the token", () -> {
            SecureRandom r = SecureRandom.getInstance("PKCS11", p);
            byte[] a = new byte[32], b = new byte[32];
            r.nextBytes(a);
            r.nextBytes(b);
            require(!Arrays.equals(a, b), "two random blocks are equal");
        });
        test("keystore logout (provider logout)", () -> ((AuthProvider) p).logout());
        System.exit(failed == 0 ? 0 : 1);
    }
}
EOF
JAVA_TESTS=(
    "provider configured"
    "keystore login with the PIN"
    "keystore lists the token keys"
    "Signature SHA256withRSA (token key), verified by SunRsaSign"
    "Signature RSASSA-PSS SHA-256 (token key), verified by SunRsaSign"
    "Signature SHA256withECDSA (token key), verified by SunEC"
    "Cipher AES/GCM/NoPadding round trip (token AES-256 key)"
    "Cipher AES/CBC/PKCS5Padding round trip (token AES-256 key)"
    "Cipher AES/GCM/NoPadding (imported key) matches SunJCE both ways"
    "Cipher AES/CBC/PKCS5Padding (imported key) matches SunJCE both ways"
    "KeyPairGenerator RSA 2048 on the token, SHA256withRSA verified by SunRsaSign"
    "KeyPairGenerator EC secp256r1 on the token, SHA256withECDSA verified by SunEC"
    "KeyGenerator AES 256 on the token, AES/GCM round trip"
    "SecureRandom from the token"
    "keystore logout (provider logout)"
)

check "javac Interop.java" t javac -d "$J/classes" "$J/Interop.java"
check "token activated, default crypto user created (pkcs11-tool)" token_init

# Token keys for a user: RSA and EC pairs with certificates (SunPKCS11's keystore shows a
# private key only with its certificate), a generated AES key and an imported one.
c_keys() ( set -e  # PIN LABEL-PREFIX ID-PREFIX
    local pin=$1 pfx=$2 ip=$3 key
    gen_keypair "${ip}1" "${pfx}rsa" rsa:2048 "$pin"
    gen_keypair "${ip}2" "${pfx}ec" EC:prime256v1 "$pin"
    p11 --token-label "$TOKEN_LABEL" --login --pin "$pin" --keygen --key-type AES:32 --id "${ip}3" --label "${pfx}aes"
    head -c 32 /dev/urandom >"$D/${pfx}aes-known"
    p11 --token-label "$TOKEN_LABEL" --login --pin "$pin" --write-object "$D/${pfx}aes-known" --type secrkey \
        --key-type AES:32 --id "${ip}4" --label "${pfx}aes-known" --usage-decrypt --sensitive --private
    # certificates carrying the token public keys, issued by a throw-away software CA
    [ -s "$D/ca.key" ] || t openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$D/ca.key" -out "$D/ca.crt" -subj /CN=interop-ca -days 2
    for key in rsa ec; do
        local id=${ip}1
        [ $key = rsa ] || id=${ip}2
        export_pubkey "$id" "$D/$pfx$key.pub.pem" "$pin"
        t openssl req -new -key "$D/ca.key" -subj "/CN=$pfx$key" -out "$D/$pfx$key.csr"
        t openssl x509 -req -in "$D/$pfx$key.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -days 2 \
            -force_pubkey "$D/$pfx$key.pub.pem" -set_serial "0x$id" -outform DER -out "$D/$pfx$key.crt.der"
        p11 --token-label "$TOKEN_LABEL" --login --pin "$pin" --write-object "$D/$pfx$key.crt.der" \
            --type cert --id "$id" --label "$pfx$key"
    done
)

# The SunPKCS11 configuration a user writes (docs/integrations.md shows the same).
write_cfg() {
    local idx
    idx=$(slot_index "$TOKEN_LABEL")
    cat >"$D/pkcs11.cfg" <<EOF
name = Interop
library = $MODULE
slotListIndex = ${idx:-0}
EOF
    cat "$D/pkcs11.cfg"
}

c_keytool() ( set -e  # PIN LABEL-PREFIX
    t keytool -list -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
        -providerArg "$D/pkcs11.cfg" -storepass "$1" >"$D/keytool.$2" 2>&1 || { cat "$D/keytool.$2"; exit 1; }
    cat "$D/keytool.$2"
    expect_grep "^$2rsa, PrivateKeyEntry" "$D/keytool.$2"
    expect_grep "^$2ec, PrivateKeyEntry" "$D/keytool.$2"
    expect_grep "^$2aes, SecretKeyEntry" "$D/keytool.$2"
)

c_java() ( set -e  # PIN LABEL-PREFIX OUT
    t java -cp "$J/classes" Interop "$D/pkcs11.cfg" "$1" "$2" "$(xxd -p -c 64 "$D/${2}aes-known")" >"$3" 2>&1 ||
        { cat "$3"; exit 1; }
    cat "$3"
)
# java_result OUT NAME: the program's line for one test
java_result() {
    if grep -qxF "ok $2" "$1"; then return 0; fi
    grep -F -A3 "FAIL $2" "$1" || echo "no result for \"$2\" (the program stopped before it)"
    return 1
}
java_checks() {  # OUT TITLE-PREFIX
    local name
    for name in "${JAVA_TESTS[@]}"; do
        check "$2$name" java_result "$1" "$name"
    done
}

check "token keys: RSA-2048 and EC P-256 with certificates, AES-256 generated and imported" c_keys "$USER_PIN" "" 0
write_cfg >"$D/cfg.out" 2>&1
check "keytool -list -storetype PKCS11 (SunPKCS11 provider config)" c_keytool "$USER_PIN" ""
c_java "$USER_PIN" "" "$D/java.user" >"$LOGS/java.user.log" 2>&1
java_checks "$D/java.user" "java: "

# --- crypto user cu1, PIN "cu1:<password>" (last: on SoftHSM it replaces the user PIN) -------
check "crypto user $CU_NAME created through the SO (C_InitPIN \"$CU_NAME:<pw>\")" add_crypto_user
check "$CU_NAME: token keys with certificates, AES keys" c_keys "$CU_PIN" "$CU_NAME-" a
check "$CU_NAME: keytool -list with -storepass \"$CU_NAME:<pw>\"" c_keytool "$CU_PIN" "$CU_NAME-"
c_java "$CU_PIN" "$CU_NAME-" "$D/java.cu" >"$LOGS/java.cu.log" 2>&1
java_checks "$D/java.cu" "java $CU_NAME: "

finish

/*
 * cloudhsm_pkcs11_vendor_defs.h - AWS CloudHSM (Client SDK 5) vendor
 * extensions, as implemented by libcloudhsm_pkcs11.so of the cloudhsm-pkcs11
 * project (Apache-2.0).
 *
 * Written for this project.  It offers the names an application written for
 * AWS CloudHSM Client SDK 5 expects from /opt/cloudhsm/include/pkcs11/
 * cloudhsm_pkcs11_vendor_defs.h, with CloudHSM's numeric values wherever
 * they are published.  Where AWS has not published a value, this file says
 * so next to the definition and uses a value chosen by this project inside
 * the vendor-defined range (bit 31 set) that no published CloudHSM value
 * uses.  include/README.md lists every value and its source.
 *
 *   CONFIRMED  the value appears in AWS's public material:
 *              - github.com/aws-samples/aws-cloudhsm-pkcs11-examples,
 *                include/pkcs11/v2.40/cloudhsm_pkcs11_vendor_defs.h
 *                (the SP 800-108 KDF, AES-GCM, AES key wrap, DES3 NIST wrap
 *                mechanisms and the KDF parameter structures);
 *              - the same repository's src/derivation/aes_cmac_kdf.c
 *                (the name CKM_CLOUDHSM_SP800_108_COUNTER_KDF);
 *              - docs.aws.amazon.com/cloudhsm/latest/userguide/
 *                manage-aes-key-wrapping.html and pkcs11-mechanisms.html.
 *   CHOSEN     the NAME is AWS's (user guide, samples) but the VALUE is not
 *              published (it is only in the header installed with the SDK);
 *              the value here is this project's.  A program compiled against
 *              this file works with this module; a binary compiled against
 *              AWS's header passes AWS's number, which this module may not
 *              know.  Recompile against this header.
 *
 * Usage:
 *
 *     #include "cloudhsm_pkcs11_vendor_defs.h"   (includes pkcs11.h)
 */

#ifndef CLOUDHSM_PKCS11_VENDOR_DEFS_H
#define CLOUDHSM_PKCS11_VENDOR_DEFS_H 1

#include "pkcs11.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) || defined(__CYGWIN__)
#pragma pack(push, cloudhsm_pkcs11_vendor_defs, 1)
#endif

/* Version of this file's set of definitions (bumped when values are added). */
#define CLOUDHSM_PKCS11_VENDOR_DEFS_VERSION 1

/* The vendor-defined range for EC key derivation functions (CK_EC_KDF_TYPE);
 * PKCS #11 reserves bit 31 for vendors in every CK_ULONG namespace. */
#ifndef CKD_VENDOR_DEFINED
#define CKD_VENDOR_DEFINED 0x80000000UL
#endif

/* ======================================================================
 * 1. Mechanisms with published values (CONFIRMED)
 * ==================================================================== */

/*
 * AES-GCM where the HSM generates the 12-byte IV and PREPENDS it to the
 * ciphertext (wrapped key) instead of writing it to CK_GCM_PARAMS.pIv.
 * Parameter: CK_GCM_PARAMS with pIv = NULL.  On decrypt/unwrap the input
 * starts with the IV.  Encrypt/Decrypt/WrapKey/UnwrapKey.
 * = 0x80001087
 */
#define CKM_CLOUDHSM_AES_GCM (CKM_VENDOR_DEFINED | CKM_AES_GCM)

/*
 * AES key wrap in three padding flavours (AWS user guide, "AES key wrapping
 * in AWS CloudHSM"):
 *   NO_PAD     = 0x80002109  RFC 3394 / SP 800-38F KW; input a multiple of
 *                            8 bytes; IV absent or 0xA6A6A6A6A6A6A6A6
 *   PKCS5_PAD  = 0x8000210A  KW over PKCS #5-padded input (at least one
 *                            padding byte); IV absent or 0xA6A6A6A6A6A6A6A6
 *                            (CloudHSM SDK 3's CKM_AES_KEY_WRAP)
 *   ZERO_PAD   = 0x8000216F  RFC 5649 / SP 800-38F KWP (zero padding, length
 *                            in the alternative IV); implicit IV only
 *                            (CloudHSM SDK 3's CKM_AES_KEY_WRAP_PAD)
 */
#define CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD    (CKM_VENDOR_DEFINED | CKM_AES_KEY_WRAP)
#define CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD (CKM_VENDOR_DEFINED | CKM_AES_KEY_WRAP_PAD)
#define CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD  (CKM_VENDOR_DEFINED | 0x0000216FUL)

/* Triple-DES key wrap per NIST SP 800-38F (TKW); = 0x80008000.
 * Defined under this name by the AWS samples' header. */
#define CKM_DES3_NIST_WRAP          (CKM_VENDOR_DEFINED | 0x00008000UL)
#define CKM_CLOUDHSM_DES3_NIST_WRAP CKM_DES3_NIST_WRAP

/*
 * NIST SP 800-108 counter-mode KDF, CloudHSM flavour; = 0x80000001.
 * PRF: CKM_SHA_1_HMAC, CKM_SHA224_HMAC .. CKM_SHA512_HMAC or CKM_AES_CMAC.
 * Parameter: CK_CLOUDHSM_SP800_108_KDF_PARAMS (below), whose pDataParams
 * list (CK_PRF_DATA_PARAM, as in pkcs11t.h) uses EITHER the CloudHSM data
 * types SP800_108_COUNTER_FORMAT/_PRF_LABEL/_PRF_CONTEXT/_DKM_FORMAT/
 * _BYTE_ARRAY, OR the PKCS #11 3.0 types CK_SP800_108_ITERATION_VARIABLE/
 * _DKM_LENGTH/_BYTE_ARRAY (AWS's later samples); the counter and DKM
 * formats are the CloudHSM structures below either way.  Counter width 16 or
 * 32 bits; DKM length width 8, 16, 32 or 64 bits; DKM method SUM_OF_KEYS.
 * The AWS samples' header calls this mechanism CKM_SP800_108_COUNTER_KDF,
 * which PKCS #11 3.0 gave to its own (different) mechanism 0x3AC; see
 * CLOUDHSM_PKCS11_SDK5_KDF below.
 */
#define CKM_CLOUDHSM_SP800_108_COUNTER_KDF (CKM_VENDOR_DEFINED | 0x00000001UL)

/* CloudHSM data types for CK_PRF_DATA_PARAM.type (AWS samples' header).
 * Note: SP800_108_COUNTER_FORMAT (4) has the value PKCS #11 gives to
 * CK_SP800_108_BYTE_ARRAY; do not mix the two sets in one list. */
#define SP800_108_COUNTER_FORMAT 0x0004UL  /* CK_CLOUDHSM_SP800_108_COUNTER_FORMAT */
#define SP800_108_PRF_LABEL      0x0005UL  /* label bytes */
#define SP800_108_PRF_CONTEXT    0x0006UL  /* context bytes */
#define SP800_108_DKM_FORMAT     0x0007UL  /* CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT */
#define SP800_108_BYTE_ARRAY     0x0008UL  /* fixed-input bytes */

/* CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT.dkmLengthMethod */
#define SP800_108_DKM_LENGTH_SUM_OF_KEYS     1UL
#define SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS 2UL

/* The PRF of the CloudHSM KDF: an HMAC or CMAC mechanism type. */
typedef CK_MECHANISM_TYPE CK_PRF_TYPE;

/* Counter encoding: big-endian, ulWidthInBits wide (16 or 32). */
typedef struct CK_CLOUDHSM_SP800_108_COUNTER_FORMAT {
    CK_ULONG ulWidthInBits;
} CK_CLOUDHSM_SP800_108_COUNTER_FORMAT;
typedef CK_CLOUDHSM_SP800_108_COUNTER_FORMAT CK_PTR CK_CLOUDHSM_SP800_108_COUNTER_FORMAT_PTR;

/* Encoding of L, the length of the derived keying material (big-endian). */
typedef struct CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT {
    CK_ULONG dkmLengthMethod;  /* SP800_108_DKM_LENGTH_SUM_OF_KEYS */
    CK_ULONG ulWidthInBits;    /* 8, 16, 32 or 64 */
} CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT;
typedef CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT CK_PTR CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT_PTR;

/* Mechanism parameter of CKM_CLOUDHSM_SP800_108_COUNTER_KDF. */
typedef struct CK_CLOUDHSM_SP800_108_KDF_PARAMS {
    CK_PRF_TYPE           prftype;
    CK_ULONG              ulNumberOfDataParams;
    CK_PRF_DATA_PARAM_PTR pDataParams;
} CK_CLOUDHSM_SP800_108_KDF_PARAMS;
typedef CK_CLOUDHSM_SP800_108_KDF_PARAMS CK_PTR CK_CLOUDHSM_SP800_108_KDF_PARAMS_PTR;

/*
 * Source compatibility with AWS CloudHSM SDK 5 sample code.
 *
 * AWS's header declares the three structures above under the PKCS #11 3.0
 * names CK_SP800_108_COUNTER_FORMAT, CK_SP800_108_DKM_LENGTH_FORMAT and
 * CK_SP800_108_KDF_PARAMS (whose 3.0 layouts differ), and
 * CKM_SP800_108_COUNTER_KDF as the vendor mechanism.  Define
 * CLOUDHSM_PKCS11_SDK5_KDF before the first #include of any of these headers
 * (e.g. -DCLOUDHSM_PKCS11_SDK5_KDF) to compile such code unchanged; the
 * standard 3.0 SP 800-108 counter structures are then not available.
 */
#ifdef CLOUDHSM_PKCS11_SDK5_KDF
typedef CK_CLOUDHSM_SP800_108_COUNTER_FORMAT    CK_SP800_108_COUNTER_FORMAT;
typedef CK_CLOUDHSM_SP800_108_COUNTER_FORMAT_PTR CK_SP800_108_COUNTER_FORMAT_PTR;
typedef CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT CK_SP800_108_DKM_LENGTH_FORMAT;
typedef CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT_PTR CK_SP800_108_DKM_LENGTH_FORMAT_PTR;
typedef CK_CLOUDHSM_SP800_108_KDF_PARAMS        CK_SP800_108_KDF_PARAMS;
typedef CK_CLOUDHSM_SP800_108_KDF_PARAMS_PTR    CK_SP800_108_KDF_PARAMS_PTR;
#undef CKM_SP800_108_COUNTER_KDF
#define CKM_SP800_108_COUNTER_KDF CKM_CLOUDHSM_SP800_108_COUNTER_KDF
#endif

/* ======================================================================
 * 2. Names published by AWS whose values are NOT published (CHOSEN)
 *
 * Every value below is this project's choice.  The rule used: where the
 * CloudHSM mechanism is a vendor variant of a standard one, the value is
 * (vendor bit | standard value), the convention of every published CloudHSM
 * value above; otherwise a value with bit 16 set, a region no published
 * CloudHSM value uses.  None collides with section 1 or with section 3.
 * ==================================================================== */

/*
 * EdDSA signatures with Ed25519 keys (CKK_EC keys whose CKA_EC_PARAMS is the
 * Ed25519 OID 1.3.101.112).  No parameter: pure Ed25519.  CK_EDDSA_PARAMS
 * with phFlag = CK_TRUE: Ed25519ph (multi-part allowed).
 * CHOSEN: 0x80001057 (vendor bit | CKM_EDDSA).  Source of the name:
 * aws-cloudhsm-pkcs11-examples src/non_fips_examples/sign/eddsa_sign.c.
 */
#define CKM_CLOUDHSM_EDDSA (CKM_VENDOR_DEFINED | CKM_EDDSA)

/*
 * ML-DSA (FIPS 204).  Key pair generation takes CKA_CLOUDHSM_PARAMETER_SET
 * in both templates; CKM_CLOUDHSM_ML_DSA signs the message ("pure" ML-DSA,
 * empty context); CKM_CLOUDHSM_EXT_MU_ML_DSA signs a caller-computed 64-byte
 * mu (FIPS 204 "external mu").  Signatures up to 4,627 bytes (ML-DSA-87).
 * Source of the names: aws-cloudhsm-pkcs11-examples src/generate/
 * mldsa_generate.c and src/sign/mldsa_sign.c; AWS user guide,
 * pkcs11-attributes-interpreting.html.
 * CHOSEN: 0x8000001C, 0x8000001D (vendor bit | CKM_ML_DSA_KEY_PAIR_GEN /
 *         CKM_ML_DSA), 0x8001001D (vendor bit | bit 16 | CKM_ML_DSA).
 */
#define CKM_CLOUDHSM_ML_DSA_KEY_PAIR_GEN (CKM_VENDOR_DEFINED | CKM_ML_DSA_KEY_PAIR_GEN)
#define CKM_CLOUDHSM_ML_DSA              (CKM_VENDOR_DEFINED | CKM_ML_DSA)
#define CKM_CLOUDHSM_EXT_MU_ML_DSA       (CKM_VENDOR_DEFINED | 0x00010000UL | CKM_ML_DSA)

/* The ML-DSA parameter set of a key (CK_CLOUDHSM_ML_DSA_PARAMETER_SET_TYPE).
 * CHOSEN: 0x8000061D (vendor bit | CKA_PARAMETER_SET). */
#define CKA_CLOUDHSM_PARAMETER_SET (CKA_VENDOR_DEFINED | CKA_PARAMETER_SET)

typedef CK_ULONG CK_CLOUDHSM_ML_DSA_PARAMETER_SET_TYPE;
typedef CK_CLOUDHSM_ML_DSA_PARAMETER_SET_TYPE CK_PTR CK_CLOUDHSM_ML_DSA_PARAMETER_SET_TYPE_PTR;

/* Values of CKA_CLOUDHSM_PARAMETER_SET.
 * CHOSEN: 1, 2, 3, the PKCS #11 3.2 values CKP_ML_DSA_44/65/87, so the
 * vendor attribute and CKA_PARAMETER_SET carry the same numbers. */
#define CKP_CLOUDHSM_ML_DSA_44 CKP_ML_DSA_44
#define CKP_CLOUDHSM_ML_DSA_65 CKP_ML_DSA_65
#define CKP_CLOUDHSM_ML_DSA_87 CKP_ML_DSA_87

/*
 * ANSI X9.63 key derivation (as profiled in RFC 8418 section 2.1) for
 * CKM_ECDH1_DERIVE: CK_ECDH1_DERIVE_PARAMS.kdf; pSharedData is the
 * SharedInfo.  Source of the names: AWS user guide pkcs11-mechanisms.html
 * and aws-cloudhsm-pkcs11-examples src/derivation/ecdh_with_kdf.c.
 * CHOSEN: 0x80000002, 0x80000005, 0x80000006, 0x80000007, 0x80000008
 *         (vendor bit | CKD_SHA1_KDF .. CKD_SHA512_KDF).
 */
#define CKD_CLOUDHSM_X963_SHA1_KDF   (CKD_VENDOR_DEFINED | CKD_SHA1_KDF)
#define CKD_CLOUDHSM_X963_SHA224_KDF (CKD_VENDOR_DEFINED | CKD_SHA224_KDF)
#define CKD_CLOUDHSM_X963_SHA256_KDF (CKD_VENDOR_DEFINED | CKD_SHA256_KDF)
#define CKD_CLOUDHSM_X963_SHA384_KDF (CKD_VENDOR_DEFINED | CKD_SHA384_KDF)
#define CKD_CLOUDHSM_X963_SHA512_KDF (CKD_VENDOR_DEFINED | CKD_SHA512_KDF)

/* ======================================================================
 * 3. This project's own extensions (NOT AWS CloudHSM)
 *
 * Values 0x8F000000-0x8FFFFFFF of every vendor-defined namespace (CKM_,
 * CKA_, CKK_, CKR_, CKD_, CKO_ ...) are reserved for extensions of this
 * project, far from every CloudHSM value.  None is defined yet; new ones are
 * added here as CKx_CLOUDHSM_OPEN_<NAME> (e.g. CKM_CLOUDHSM_OPEN_...).
 * ==================================================================== */

#define CLOUDHSM_OPEN_VENDOR_BASE 0x8F000000UL

#if defined(_WIN32) || defined(__CYGWIN__)
#pragma pack(pop, cloudhsm_pkcs11_vendor_defs)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CLOUDHSM_PKCS11_VENDOR_DEFS_H */

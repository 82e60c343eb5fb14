/*
 * pkcs11.h - PKCS #11 (Cryptoki) entry header for libcloudhsm_pkcs11.so
 *
 * Part of the cloudhsm-pkcs11 project (Apache-2.0).  Written for this project
 * from the OASIS PKCS #11 specifications (Base Specification 3.0 / 3.1 / 3.2,
 * section 2 "Platform- and compiler-dependent directives for C or C++");
 * constant values are the ones the specifications assign.
 *
 * Applications include only this file (and, for the AWS CloudHSM vendor
 * extensions, cloudhsm_pkcs11_vendor_defs.h, which includes this one):
 *
 *     #include "pkcs11.h"
 *
 * The PKCS #11 specification leaves five macros to the application
 * (CK_PTR, CK_DECLARE_FUNCTION, CK_DECLARE_FUNCTION_POINTER,
 * CK_CALLBACK_FUNCTION, NULL_PTR).  This header defines them for the
 * platforms the module ships on -- Linux/Unix with GCC or Clang, and Windows
 * with MSVC or MinGW -- unless the application defined them first, then pulls
 * in the type definitions (pkcs11t.h) and the function list (pkcs11f.h), and
 * builds from pkcs11f.h:
 *
 *   - a prototype for every Cryptoki function;
 *   - a pointer type CK_C_<Function> for every Cryptoki function;
 *   - CK_FUNCTION_LIST      (version 2.x layout: C_Initialize .. C_WaitForSlotEvent)
 *   - CK_FUNCTION_LIST_3_0  (2.x layout + the 3.0 interface/message functions)
 *   - CK_FUNCTION_LIST_3_2  (3.0 layout + the 3.2 functions: KEM, signature
 *                            verification with the signature first, validation
 *                            flags, async, authenticated wrapping)
 *
 * Optional switches an application may define before including this file:
 *
 *   CK_PKCS11_NO_PROTOTYPES   do not declare the C_xxx functions themselves
 *                             (for applications that only dlopen() the
 *                             module and call through the function list).
 *   CLOUDHSM_PKCS11_SDK5_KDF  compile AWS CloudHSM SDK 5 sample code that
 *                             uses CloudHSM's own SP 800-108 structures under
 *                             the standard names; see
 *                             cloudhsm_pkcs11_vendor_defs.h and README.md.
 */

#ifndef CLOUDHSM_PKCS11_H
#define CLOUDHSM_PKCS11_H 1

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Platform directives (PKCS #11 base specification, section 2).
 * ---------------------------------------------------------------------- */

#if defined(_WIN32) || defined(__CYGWIN__)
/*
 * Windows: Cryptoki structures are packed to 1-byte alignment, and the
 * functions are imported from the DLL.  (The module itself only ships for
 * Linux today; this keeps the header usable by Windows clients of the same
 * API, as the specification describes.)
 */
#pragma pack(push, cryptoki, 1)
#ifndef CK_DECLARE_FUNCTION
#define CK_DECLARE_FUNCTION(returnType, name) \
    returnType __declspec(dllimport) name
#endif
#ifndef CK_DECLARE_FUNCTION_POINTER
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) \
    returnType __declspec(dllimport) (* name)
#endif
#else
/* Unix-like systems: natural alignment, ordinary C linkage. */
#ifndef CK_DECLARE_FUNCTION
#define CK_DECLARE_FUNCTION(returnType, name) returnType name
#endif
#ifndef CK_DECLARE_FUNCTION_POINTER
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (* name)
#endif
#endif

/* A pointer to an object: "CK_BYTE CK_PTR" is "CK_BYTE *". */
#ifndef CK_PTR
#define CK_PTR *
#endif

/* An application callback (CK_NOTIFY, the mutex functions). */
#ifndef CK_CALLBACK_FUNCTION
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (* name)
#endif

/* The null pointer, as Cryptoki documents it. */
#ifndef NULL_PTR
#define NULL_PTR 0
#endif

/* Used by a module to define (not declare) an exported function. */
#ifndef CK_DEFINE_FUNCTION
#define CK_DEFINE_FUNCTION(returnType, name) returnType name
#endif

/* ------------------------------------------------------------------------
 * Types and constants.
 * ---------------------------------------------------------------------- */

#include "pkcs11t.h"

/* Token pasting helper used to turn C_Foo into CK_C_Foo. */
#define CK_PKCS11_PASTE_(x, y) x##y
#define CK_PKCS11_PASTE(x, y) CK_PKCS11_PASTE_(x, y)

/* ------------------------------------------------------------------------
 * 1. Prototypes:  CK_RV C_Initialize(CK_VOID_PTR pInitArgs); ...
 * ---------------------------------------------------------------------- */

#ifndef CK_PKCS11_NO_PROTOTYPES
#define CK_NEED_ARG_LIST 1
#define CK_PKCS11_FUNCTION_INFO(name) \
    extern CK_DECLARE_FUNCTION(CK_RV, name)
#include "pkcs11f.h"
#undef CK_NEED_ARG_LIST
#undef CK_PKCS11_FUNCTION_INFO
#endif

/* ------------------------------------------------------------------------
 * 2. Function pointer types:  typedef CK_RV (*CK_C_Initialize)(...); ...
 * ---------------------------------------------------------------------- */

#define CK_NEED_ARG_LIST 1
#define CK_PKCS11_FUNCTION_INFO(name) \
    typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_PKCS11_PASTE(CK_, name))
#include "pkcs11f.h"
#undef CK_NEED_ARG_LIST
#undef CK_PKCS11_FUNCTION_INFO

/* ------------------------------------------------------------------------
 * 3. Function lists.  One member per function, in the order of pkcs11f.h,
 *    after a leading CK_VERSION.  The order is ABI: never reorder pkcs11f.h.
 * ---------------------------------------------------------------------- */

#define CK_PKCS11_FUNCTION_INFO(name) CK_PKCS11_PASTE(CK_, name) name;

/* Version 2.x list: what C_GetFunctionList returns. */
struct CK_FUNCTION_LIST {
    CK_VERSION version;
#define CK_PKCS11_2_0_ONLY 1
#include "pkcs11f.h"
#undef CK_PKCS11_2_0_ONLY
};

/* Version 3.0 list: the "PKCS 11" interface, version 3.0. */
struct CK_FUNCTION_LIST_3_0 {
    CK_VERSION version;
#define CK_PKCS11_3_0_ONLY 1
#include "pkcs11f.h"
#undef CK_PKCS11_3_0_ONLY
};

/* Version 3.2 list: the "PKCS 11" interface, version 3.2. */
struct CK_FUNCTION_LIST_3_2 {
    CK_VERSION version;
#include "pkcs11f.h"
};

#undef CK_PKCS11_FUNCTION_INFO

#if defined(_WIN32) || defined(__CYGWIN__)
#pragma pack(pop, cryptoki)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CLOUDHSM_PKCS11_H */

#!/usr/bin/env python3
"""Cross-check the constants of include/pkcs11*.h against the cryptoki-sys crate.

Usage:  python3 include/gen-check.py [path/to/cryptoki-sys/src/bindings/<triple>.rs]

Without an argument the newest cryptoki-sys found under ~/.cargo/registry is
used (x86_64-unknown-linux-gnu bindings).

What it does:
  1. asks the C preprocessor (cc -dM -E) for every macro the headers define
     whose name starts with CK (CKA_, CKM_, CKR_, CKO_, CKK_, CKF_, CKD_, ...),
  2. compiles and runs a tiny C program that prints the value of each one (so
     expressions such as (CKF_ARRAY_ATTRIBUTE | 0x211UL) are evaluated by the
     compiler, not by this script),
  3. compares them with the `pub const NAME: T = VALUE;` items of the bindings.

It fails (exit 1) when a constant has a different value, or when cryptoki-sys
has a CK* constant the headers lack.  Constants only the headers have (2.40
aliases, CloudHSM vendor values) are listed for information.

Needs: python3, a C compiler (cc), the cryptoki-sys sources (cargo fetch).
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = re.compile(r"^(CK[A-Z]?_[A-Z0-9_]+|CRYPTOKI_VERSION_[A-Z]+)$")
# Function-like or type-like macros that are not constants.
NOT_CONSTANTS = {
    "CK_PTR", "CK_DECLARE_FUNCTION", "CK_DECLARE_FUNCTION_POINTER",
    "CK_CALLBACK_FUNCTION", "CK_DEFINE_FUNCTION", "CK_PKCS11_PASTE",
    "CK_PKCS11_PASTE_", "CK_PKCS11_FUNCTION_INFO", "CK_NEED_ARG_LIST",
}


def find_bindings():
    if len(sys.argv) > 1:
        return sys.argv[1]
    pattern = os.path.expanduser(
        "~/.cargo/registry/src/*/cryptoki-sys-*/src/bindings/x86_64-unknown-linux-gnu.rs")
    found = sorted(glob.glob(pattern))
    if not found:
        sys.exit("cryptoki-sys sources not found; run `cargo fetch` or pass the path")
    return found[-1]


def rust_constants(path):
    consts = {}
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"pub const ([A-Z0-9_]+): [A-Za-z0-9_]+ = (\d+);", text):
        name, value = m.group(1), int(m.group(2))
        if PREFIX.match(name):
            consts[name] = value
    return consts


def header_constants(cc, extra_defines):
    src = '#include "cloudhsm_pkcs11_vendor_defs.h"\n'
    with tempfile.TemporaryDirectory() as tmp:
        c_path = os.path.join(tmp, "m.c")
        open(c_path, "w").write(src)
        macros = subprocess.run(
            [cc, "-std=c99", "-dM", "-E", "-I", HERE, *extra_defines, c_path],
            check=True, capture_output=True, text=True).stdout
        names = []
        for line in macros.splitlines():
            m = re.match(r"#define ([A-Za-z0-9_]+)(\(| |$)", line)
            if not m or m.group(2) == "(":
                continue
            name = m.group(1)
            if PREFIX.match(name) and name not in NOT_CONSTANTS \
                    and not name.startswith("CK_PKCS11_") \
                    and not name.startswith("CLOUDHSM_"):
                names.append(name)
        prog = [src, "#include <stdio.h>", "int main(void) {"]
        for n in sorted(set(names)):
            prog.append('    printf("%%s %%lu\\n", "%s", (unsigned long)(%s));' % (n, n))
        prog += ["    return 0;", "}"]
        open(c_path, "w").write("\n".join(prog) + "\n")
        exe = os.path.join(tmp, "m")
        subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-I", HERE,
                        *extra_defines, c_path, "-o", exe], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        name, value = line.split()
        values[name] = int(value)
    return values


def main():
    cc = os.environ.get("CC", "cc")
    bindings = find_bindings()
    rust = rust_constants(bindings)
    c = header_constants(cc, [])
    bad = 0
    for name in sorted(rust):
        if name not in c:
            print(f"MISSING  {name} = {rust[name]:#x} (in cryptoki-sys, not in the headers)")
            bad += 1
        elif c[name] != rust[name]:
            print(f"MISMATCH {name}: headers {c[name]:#x}, cryptoki-sys {rust[name]:#x}")
            bad += 1
    extra = sorted(set(c) - set(rust))
    print(f"checked {len(rust)} cryptoki-sys constants against {len(c)} header constants "
          f"({bindings})")
    print(f"{len(extra)} header-only constants: " + " ".join(extra))
    if bad:
        print(f"FAILED: {bad} problem(s)")
        return 1
    print("OK: every cryptoki-sys constant is in the headers with the same value")
    return 0


if __name__ == "__main__":
    sys.exit(main())

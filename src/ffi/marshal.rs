//! Marshalling helpers: the only places where C arguments become Rust values (input slices,
//! output pointers, the output-buffer protocol, padded strings, numbers).
//!
//! Each `unsafe fn` states its contract; the exported functions uphold it by passing
//! pointers straight from their caller, who promised them by the PKCS#11 contract.

use std::ffi::c_void;

use cryptoki_sys::*;

use crate::cryptoki::Out;
use crate::error::{Error, Result};
use crate::hsm::api::Secret;

// CK_ULONG is `unsigned long`: 64 bits on the LP64 platforms this module is built for.
// Numbers cross between `u64` (the seam's) and `CK_ULONG` with the two functions below.
const _: () = assert!(std::mem::size_of::<CK_ULONG>() == std::mem::size_of::<u64>());

/// A `CK_ULONG` as the seam's `u64`.
#[allow(clippy::useless_conversion)] // identity on LP64; checked above
pub(crate) fn from_ck(v: CK_ULONG) -> u64 {
    u64::from(v)
}

/// The seam's `u64` as a `CK_ULONG`.
#[allow(clippy::useless_conversion)] // identity on LP64; checked above
pub(crate) fn to_ck(v: u64) -> CK_ULONG {
    CK_ULONG::from(v)
}

/// A length or count as a `CK_ULONG`.
pub(crate) fn len_to_ck(n: usize) -> CK_ULONG {
    // usize and CK_ULONG are both 64 bits (checked above): never saturates.
    CK_ULONG::try_from(n).unwrap_or(CK_ULONG::MAX)
}

/// A `CK_ULONG` length as a `usize`.
pub(crate) fn len_from_ck(n: CK_ULONG) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::ArgumentsBad)
}

/// An input byte string. NULL is the empty string when `len` is 0, and `err` otherwise.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes for `'a`, and not written meanwhile.
pub(crate) unsafe fn bytes_or<'a>(ptr: *const u8, len: CK_ULONG, err: Error) -> Result<&'a [u8]> {
    let n = usize::try_from(len).map_err(|_| err)?;
    if n == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(err);
    }
    // SAFETY: non-NULL and valid for `n` bytes for 'a by this function's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// An input byte string (C_Encrypt's data, C_Verify's signature...): NULL with a nonzero
/// length is CKR_ARGUMENTS_BAD.
///
/// # Safety
/// As [`bytes_or`].
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    // SAFETY: same contract.
    unsafe { bytes_or(ptr, len, Error::ArgumentsBad) }
}

/// A PIN (or any secret input), copied into a zeroizing buffer.
///
/// # Safety
/// As [`bytes_or`].
pub(crate) unsafe fn secret(ptr: *const u8, len: CK_ULONG) -> Result<Secret> {
    // SAFETY: same contract.
    Ok(Secret::new(unsafe { bytes(ptr, len) }?.to_vec()))
}

/// A UTF-8 string of known length (C_LoginUser's user name).
///
/// # Safety
/// As [`bytes_or`].
pub(crate) unsafe fn utf8(ptr: *const u8, len: CK_ULONG) -> Result<String> {
    // SAFETY: same contract.
    let b = unsafe { bytes(ptr, len) }?;
    String::from_utf8(b.to_vec()).map_err(|_| Error::ArgumentsBad)
}

/// A NUL-terminated string (C_Initialize's pReserved, our config path extension).
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string.
pub(crate) unsafe fn c_str(ptr: *const c_void) -> Result<Option<String>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by this function's contract.
    let s = unsafe { std::ffi::CStr::from_ptr(ptr.cast()) };
    s.to_str()
        .map(|s| Some(s.to_owned()))
        .map_err(|_| Error::ArgumentsBad)
}

/// Write a value through a required output pointer (NULL: CKR_ARGUMENTS_BAD).
///
/// # Safety
/// `ptr` is NULL or valid for a write of a `T`.
pub(crate) unsafe fn put<T>(ptr: *mut T, value: T) -> Result<()> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL and valid for a write by this function's contract; unaligned writes
    // are fine for any pointer.
    unsafe { ptr.write_unaligned(value) };
    Ok(())
}

/// Read a value through a required input pointer (NULL: CKR_ARGUMENTS_BAD).
///
/// # Safety
/// `ptr` is NULL or valid for a read of a `T`.
pub(crate) unsafe fn get<T>(ptr: *const T) -> Result<T> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL and valid for a read by this function's contract.
    Ok(unsafe { ptr.read_unaligned() })
}

/// A caller's output buffer: `(pOut, pulOutLen)` under the protocol of PKCS#11 §5.2.
pub(crate) struct OutBuf {
    ptr: *mut u8,
    len: *mut CK_ULONG,
    cap: Option<usize>,
}

impl OutBuf {
    /// Take the caller's buffer. `len` is required; `ptr` NULL means a size query.
    ///
    /// # Safety
    /// `len` is NULL or valid for reads and writes of a `CK_ULONG`; `ptr` is NULL or valid
    /// for writes of `*len` bytes; both stay so while the `OutBuf` lives.
    pub(crate) unsafe fn new(ptr: *mut u8, len: *mut CK_ULONG) -> Result<OutBuf> {
        if len.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let cap = if ptr.is_null() {
            None
        } else {
            // SAFETY: `len` is non-NULL and readable by this function's contract.
            let n = unsafe { len.read_unaligned() };
            Some(usize::try_from(n).unwrap_or(usize::MAX))
        };
        Ok(OutBuf { ptr, len, cap })
    }

    /// The buffer's capacity, `None` for a size query.
    pub(crate) fn cap(&self) -> Option<usize> {
        self.cap
    }

    /// Hand an output to the caller: copy it (CKR_OK), or tell its length (CKR_OK for a
    /// size query, CKR_BUFFER_TOO_SMALL for too small a buffer).
    pub(crate) fn deliver(&self, out: Out) -> Result<()> {
        match out {
            Out::Done(data) => self.write(&data),
            Out::Public(data) => self.write(&data),
            Out::Written(n) => {
                // SAFETY: `self.len` is non-NULL and writable (checked and promised in `new`).
                unsafe { self.len.write_unaligned(len_to_ck(n)) };
                Ok(())
            }
            Out::Needed(n) => {
                // SAFETY: `self.len` is non-NULL and writable (checked and promised in `new`).
                unsafe { self.len.write_unaligned(len_to_ck(n)) };
                if self.cap.is_none() {
                    Ok(())
                } else {
                    Err(Error::BufferTooSmall)
                }
            }
        }
    }

    /// The caller's buffer, to write an output straight into (`None` for a size query).
    ///
    /// # Safety
    /// While the slice lives, nothing else reads or writes the caller's buffer: in particular
    /// no input slice may overlap it (see [`OutBuf::overlaps`]).
    pub(crate) unsafe fn slice_mut<'a>(&self) -> Option<&'a mut [u8]> {
        let cap = self.cap?;
        if cap == 0 {
            return Some(&mut []);
        }
        // SAFETY: `self.ptr` is non-NULL (cap is Some) and valid for writes of `cap` bytes
        // (promised in `new`); exclusive by this function's contract. The bytes may be
        // uninitialized caller memory: every user writes before it reads.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr, cap) })
    }

    /// Whether `input` shares any byte with the caller's buffer (in-place calls).
    pub(crate) fn overlaps(&self, input: &[u8]) -> bool {
        let Some(cap) = self.cap else {
            return false;
        };
        let (a, b) = (input.as_ptr() as usize, self.ptr as usize);
        a < b.saturating_add(cap) && b < a.saturating_add(input.len())
    }

    /// Copy `data` out under the protocol (for outputs that need no stash: their length is
    /// known before they are computed, or computing them twice is harmless).
    pub(crate) fn write(&self, data: &[u8]) -> Result<()> {
        // SAFETY: `self.len` is non-NULL and writable (checked and promised in `new`).
        unsafe { self.len.write_unaligned(len_to_ck(data.len())) };
        match self.cap {
            None => Ok(()),
            Some(c) if c < data.len() => Err(Error::BufferTooSmall),
            Some(_) => {
                if !data.is_empty() {
                    // SAFETY: `self.ptr` is non-NULL (cap is Some) and writable for `c >=
                    // data.len()` bytes (promised in `new`); `data` is our own buffer, so
                    // the two do not overlap.
                    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, data.len()) };
                }
                Ok(())
            }
        }
    }
}

/// The output-buffer protocol for arrays (C_GetSlotList, C_GetMechanismList,
/// C_GetInterfaceList): NULL asks for the count; too small an array gets the count and
/// CKR_BUFFER_TOO_SMALL.
///
/// # Safety
/// `count` is NULL or valid for reads and writes of a `CK_ULONG`; `ptr` is NULL or valid for
/// writes of `*count` values of `T`.
pub(crate) unsafe fn out_array<T: Copy>(
    ptr: *mut T,
    count: *mut CK_ULONG,
    items: &[T],
) -> Result<()> {
    if count.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: `count` is non-NULL and readable/writable by this function's contract.
    let cap = unsafe { count.read_unaligned() };
    // SAFETY: as above.
    unsafe { count.write_unaligned(len_to_ck(items.len())) };
    if ptr.is_null() {
        return Ok(());
    }
    if usize::try_from(cap).unwrap_or(usize::MAX) < items.len() {
        return Err(Error::BufferTooSmall);
    }
    for (i, item) in items.iter().enumerate() {
        // SAFETY: `ptr` is valid for `cap >= items.len()` writes of `T`.
        unsafe { ptr.add(i).write_unaligned(*item) };
    }
    Ok(())
}

/// A blank-padded, not NUL-terminated string field (labels, manufacturer IDs...), cut at a
/// character boundary if too long.
pub(crate) fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out
}

/// A blank-padded label field as a string (C_InitToken's pLabel: 32 bytes).
/// Some applications pass a shorter NUL-terminated string: it ends at the first NUL.
pub(crate) fn unpadded(field: &[u8]) -> Result<String> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    let s = std::str::from_utf8(&field[..end]).map_err(|_| Error::ArgumentsBad)?;
    Ok(s.trim_end_matches(' ').to_owned())
}

/// A `CK_VERSION`.
pub(crate) fn version((major, minor): (u8, u8)) -> CK_VERSION {
    CK_VERSION { major, minor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    #[test]
    fn input_slices() {
        let data = [1u8, 2, 3];
        // SAFETY: pointers to a live local array with its length, or NULL.
        unsafe {
            assert_eq!(bytes(data.as_ptr(), 3).unwrap(), &data);
            assert_eq!(bytes(std::ptr::null(), 0).unwrap(), &[] as &[u8]);
            assert_eq!(bytes(data.as_ptr(), 0).unwrap(), &[] as &[u8]);
            assert_eq!(bytes(std::ptr::null(), 1), Err(Error::ArgumentsBad));
            assert_eq!(
                bytes_or(std::ptr::null(), 5, Error::MechanismParamInvalid),
                Err(Error::MechanismParamInvalid)
            );
            assert_eq!(secret(data.as_ptr(), 2).unwrap().as_bytes(), &[1, 2]);
            assert_eq!(utf8(b"cu1".as_ptr(), 3).unwrap(), "cu1");
            assert_eq!(utf8([0xffu8].as_ptr(), 1), Err(Error::ArgumentsBad));
            assert_eq!(
                c_str(c"/etc/x.toml".as_ptr().cast()).unwrap().as_deref(),
                Some("/etc/x.toml")
            );
            assert_eq!(c_str(std::ptr::null()).unwrap(), None);
        }
    }

    #[test]
    fn output_pointers() {
        let mut v: CK_ULONG = 0;
        // SAFETY: pointers to live locals, or NULL.
        unsafe {
            put(&mut v, 7).unwrap();
            assert_eq!(v, 7);
            assert_eq!(
                put(std::ptr::null_mut::<CK_ULONG>(), 1),
                Err(Error::ArgumentsBad)
            );
            assert_eq!(get(&v as *const CK_ULONG).unwrap(), 7);
            assert_eq!(get(std::ptr::null::<CK_ULONG>()), Err(Error::ArgumentsBad));
        }
    }

    #[test]
    fn output_buffer_protocol() {
        let mut buf = [0u8; 4];
        let mut len: CK_ULONG = 0;
        // SAFETY: pointers to live locals with the lengths given, or NULL.
        unsafe {
            // Size query: the length, CKR_OK.
            OutBuf::new(std::ptr::null_mut(), &mut len)
                .unwrap()
                .write(b"abc")
                .unwrap();
            assert_eq!(len, 3);
            // Too small: the length and CKR_BUFFER_TOO_SMALL, nothing written.
            len = 2;
            let r = OutBuf::new(buf.as_mut_ptr(), &mut len)
                .unwrap()
                .write(b"abc");
            assert_eq!(r, Err(Error::BufferTooSmall));
            assert_eq!(len, 3);
            assert_eq!(buf, [0; 4]);
            // Big enough: the data and its length.
            len = 4;
            OutBuf::new(buf.as_mut_ptr(), &mut len)
                .unwrap()
                .write(b"abc")
                .unwrap();
            assert_eq!((len, &buf[..3]), (3, &b"abc"[..]));
            // No length pointer.
            assert!(OutBuf::new(buf.as_mut_ptr(), std::ptr::null_mut()).is_err());
            // Stashed outputs.
            OutBuf::new(std::ptr::null_mut(), &mut len)
                .unwrap()
                .deliver(Out::Needed(9))
                .unwrap();
            assert_eq!(len, 9);
            len = 4;
            let r = OutBuf::new(buf.as_mut_ptr(), &mut len)
                .unwrap()
                .deliver(Out::Needed(9));
            assert_eq!((r, len), (Err(Error::BufferTooSmall), 9));
            len = 4;
            let done = Out::Done(Zeroizing::new(b"xy".to_vec()));
            OutBuf::new(buf.as_mut_ptr(), &mut len)
                .unwrap()
                .deliver(done)
                .unwrap();
            assert_eq!((len, &buf[..2]), (2, &b"xy"[..]));
        }
    }

    #[test]
    fn array_protocol() {
        let items: [CK_ULONG; 3] = [5, 6, 7];
        let mut out = [0 as CK_ULONG; 3];
        let mut n: CK_ULONG = 0;
        // SAFETY: pointers to live locals with the counts given, or NULL.
        unsafe {
            out_array(std::ptr::null_mut(), &mut n, &items).unwrap();
            assert_eq!(n, 3);
            n = 2;
            assert_eq!(
                out_array(out.as_mut_ptr(), &mut n, &items),
                Err(Error::BufferTooSmall)
            );
            assert_eq!(n, 3);
            out_array(out.as_mut_ptr(), &mut n, &items).unwrap();
            assert_eq!(out, items);
            assert_eq!(
                out_array(out.as_mut_ptr(), std::ptr::null_mut(), &items),
                Err(Error::ArgumentsBad)
            );
        }
    }

    #[test]
    fn padded_strings() {
        assert_eq!(&padded::<6>("ab"), b"ab    ");
        assert_eq!(&padded::<3>("abcdef"), b"abc");
        // "é" is two bytes: never cut in the middle.
        assert_eq!(&padded::<2>("aé"), b"a ");
        assert_eq!(unpadded(b"label   ").unwrap(), "label");
        assert_eq!(unpadded(b"lab\0\xff\xfe  ").unwrap(), "lab");
        assert!(unpadded(b"\xff   ").is_err());
        assert_eq!(len_from_ck(5).unwrap(), 5);
        assert_eq!(from_ck(to_ck(42)), 42);
    }
}

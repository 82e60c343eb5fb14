//! Templates: `CK_ATTRIBUTE` arrays in (decoded by `hsm::attrs::kind`) and attribute values
//! out (C_GetAttributeValue's per-attribute algorithm, nested templates included).

use std::ffi::c_void;
use std::mem::size_of;

use cryptoki_sys::*;

use super::marshal::{from_ck, len_to_ck, to_ck};
use crate::error::{Error, Result};
use crate::hsm::api::{AttrRead, AttrType, AttrValue, Attribute, Template};
use crate::hsm::attrs::{kind, AttrKind};

/// How deep templates may nest (CKA_WRAP_TEMPLATE holds attributes, never templates).
const MAX_DEPTH: u8 = 1;

/// A template from a `CK_ATTRIBUTE` array. NULL is the empty template when `count` is 0.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `count` `CK_ATTRIBUTE`s, each of whose `pValue` is
/// NULL or valid for reads of `ulValueLen` bytes (nested arrays likewise).
pub(crate) unsafe fn template(ptr: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Template> {
    // SAFETY: same contract.
    unsafe { template_at(ptr, count, 0, Error::ArgumentsBad) }
}

/// # Safety
/// As [`template`].
unsafe fn template_at(
    ptr: *const CK_ATTRIBUTE,
    count: CK_ULONG,
    depth: u8,
    null_err: Error,
) -> Result<Template> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(null_err);
    }
    let n = usize::try_from(count).map_err(|_| Error::ArgumentsBad)?;
    // Grown as read, never preallocated from a caller's count.
    let mut out = Vec::new();
    for i in 0..n {
        // SAFETY: `ptr` is valid for `count` reads of CK_ATTRIBUTE (contract); unaligned reads
        // are fine whatever the caller's alignment.
        let a = unsafe { ptr.add(i).read_unaligned() };
        let ty = from_ck(a.type_);
        // SAFETY: `pValue` is valid for `ulValueLen` bytes (contract).
        let value = unsafe { value(ty, a.pValue, a.ulValueLen, depth) }?;
        out.push(Attribute::new(ty, value));
    }
    Ok(out)
}

/// One attribute value, decoded by the attribute's kind.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes (nested arrays as in [`template`]).
unsafe fn value(ty: AttrType, p: *const c_void, len: CK_ULONG, depth: u8) -> Result<AttrValue> {
    let n = usize::try_from(len).map_err(|_| Error::AttributeValueInvalid)?;
    if p.is_null() && n != 0 {
        return Err(Error::AttributeValueInvalid);
    }
    let bytes: &[u8] = if n == 0 {
        &[]
    } else {
        // SAFETY: non-NULL and valid for `n` bytes (contract).
        unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) }
    };
    match kind(ty) {
        AttrKind::Bool => match bytes {
            [b] => Ok(AttrValue::Bool(*b != CK_FALSE)),
            _ => Err(Error::AttributeValueInvalid),
        },
        AttrKind::Ulong => {
            let raw: [u8; size_of::<CK_ULONG>()] =
                bytes.try_into().map_err(|_| Error::AttributeValueInvalid)?;
            Ok(AttrValue::Ulong(from_ck(CK_ULONG::from_ne_bytes(raw))))
        }
        AttrKind::Bytes | AttrKind::Date => Ok(AttrValue::Bytes(bytes.to_vec())),
        AttrKind::Mechanisms => {
            if !bytes.len().is_multiple_of(size_of::<CK_ULONG>()) {
                return Err(Error::AttributeValueInvalid);
            }
            let mechs = bytes
                .chunks_exact(size_of::<CK_ULONG>())
                .map(|c| {
                    let mut raw = [0u8; size_of::<CK_ULONG>()];
                    raw.copy_from_slice(c);
                    from_ck(CK_ULONG::from_ne_bytes(raw))
                })
                .collect();
            Ok(AttrValue::Mechanisms(mechs))
        }
        AttrKind::Template => {
            if depth >= MAX_DEPTH || !n.is_multiple_of(size_of::<CK_ATTRIBUTE>()) {
                return Err(Error::AttributeValueInvalid);
            }
            let count = len_to_ck(n / size_of::<CK_ATTRIBUTE>());
            // SAFETY: `p` holds `count` CK_ATTRIBUTEs, each valid per the contract.
            let inner = unsafe {
                template_at(
                    p.cast::<CK_ATTRIBUTE>(),
                    count,
                    depth + 1,
                    Error::AttributeValueInvalid,
                )
            }?;
            Ok(AttrValue::Template(inner))
        }
    }
}

/// The attribute types a C_GetAttributeValue template asks for.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `count` `CK_ATTRIBUTE`s.
pub(crate) unsafe fn requested_types(
    ptr: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<Vec<AttrType>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let n = usize::try_from(count).map_err(|_| Error::ArgumentsBad)?;
    let mut types = Vec::new();
    for i in 0..n {
        // SAFETY: valid for `count` reads (contract).
        types.push(from_ck(unsafe { ptr.add(i).read_unaligned() }.type_));
    }
    Ok(types)
}

/// A value's encoding in a caller's buffer (templates are written element by element).
fn encode(v: &AttrValue) -> Vec<u8> {
    match v {
        AttrValue::Bool(b) => vec![if *b { CK_TRUE } else { CK_FALSE }],
        AttrValue::Ulong(u) => to_ck(*u).to_ne_bytes().to_vec(),
        AttrValue::Bytes(b) => b.clone(),
        AttrValue::Mechanisms(m) => m.iter().flat_map(|x| to_ck(*x).to_ne_bytes()).collect(),
        AttrValue::Template(t) => vec![0; t.len() * size_of::<CK_ATTRIBUTE>()],
    }
}

/// What went wrong with some attribute of a C_GetAttributeValue call; every attribute is
/// processed regardless.
#[derive(Default)]
struct Outcome {
    sensitive: bool,
    invalid: bool,
    too_small: bool,
}

impl Outcome {
    /// The call's return code. The spec lets any applicable code be returned when several
    /// apply; we answer the most informative first.
    fn result(&self) -> Result<()> {
        if self.sensitive {
            Err(Error::AttributeSensitive)
        } else if self.invalid {
            Err(Error::AttributeTypeInvalid)
        } else if self.too_small {
            Err(Error::BufferTooSmall)
        } else {
            Ok(())
        }
    }
}

/// Fill a caller's C_GetAttributeValue template from the core's answers (PKCS#11 3.0
/// §5.7.5): per attribute, sensitive or unknown → CK_UNAVAILABLE_INFORMATION; NULL pValue →
/// the length; big enough → the value and its length; too small → CK_UNAVAILABLE_INFORMATION.
///
/// # Safety
/// `ptr` is valid for reads and writes of `reads.len()` `CK_ATTRIBUTE`s, each of whose
/// `pValue` is NULL or valid for writes of `ulValueLen` bytes (nested arrays likewise).
pub(crate) unsafe fn fill(ptr: *mut CK_ATTRIBUTE, reads: &[AttrRead]) -> Result<()> {
    let mut outcome = Outcome::default();
    for (i, read) in reads.iter().enumerate() {
        // SAFETY: `ptr` is valid for `reads.len()` CK_ATTRIBUTEs (contract).
        let slot = unsafe { ptr.add(i) };
        // SAFETY: as above.
        unsafe { fill_one(slot, read, &mut outcome, 0) };
    }
    outcome.result()
}

/// # Safety
/// `slot` is valid for a read and a write of a `CK_ATTRIBUTE` whose `pValue` is NULL or
/// valid for writes of `ulValueLen` bytes.
unsafe fn fill_one(slot: *mut CK_ATTRIBUTE, read: &AttrRead, outcome: &mut Outcome, depth: u8) {
    // SAFETY: readable (contract).
    let mut a = unsafe { slot.read_unaligned() };
    match read {
        AttrRead::Sensitive => {
            outcome.sensitive = true;
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        }
        AttrRead::Invalid => {
            outcome.invalid = true;
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        }
        AttrRead::Value(AttrValue::Template(inner)) if depth < MAX_DEPTH => {
            let needed = inner.len() * size_of::<CK_ATTRIBUTE>();
            if a.pValue.is_null() {
                a.ulValueLen = len_to_ck(needed);
            } else if usize::try_from(a.ulValueLen).unwrap_or(usize::MAX) < needed {
                outcome.too_small = true;
                a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            } else {
                let elems = a.pValue.cast::<CK_ATTRIBUTE>();
                for (j, attr) in inner.iter().enumerate() {
                    // SAFETY: the caller's array holds at least `inner.len()` elements
                    // (checked above); each element is readable and writable (contract).
                    let e = unsafe { elems.add(j) };
                    // SAFETY: as above.
                    let mut el = unsafe { e.read_unaligned() };
                    el.type_ = to_ck(attr.ty);
                    // SAFETY: as above.
                    unsafe { e.write_unaligned(el) };
                    let inner_read = AttrRead::Value(attr.value.clone());
                    // SAFETY: as above; the element's pValue obeys the contract.
                    unsafe { fill_one(e, &inner_read, outcome, depth + 1) };
                }
                a.ulValueLen = len_to_ck(needed);
            }
        }
        AttrRead::Value(v) => {
            let bytes = zeroize::Zeroizing::new(encode(v));
            if a.pValue.is_null() {
                a.ulValueLen = len_to_ck(bytes.len());
            } else if usize::try_from(a.ulValueLen).unwrap_or(usize::MAX) < bytes.len() {
                outcome.too_small = true;
                a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            } else {
                if !bytes.is_empty() {
                    // SAFETY: pValue is writable for ulValueLen >= bytes.len() bytes
                    // (contract); `bytes` is ours, so they do not overlap.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            bytes.as_ptr(),
                            a.pValue.cast::<u8>(),
                            bytes.len(),
                        )
                    };
                }
                a.ulValueLen = len_to_ck(bytes.len());
            }
        }
    }
    // SAFETY: writable (contract).
    unsafe { slot.write_unaligned(a) };
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn attr(ty: CK_ATTRIBUTE_TYPE, v: &mut [u8]) -> CK_ATTRIBUTE {
        CK_ATTRIBUTE {
            type_: ty,
            pValue: v.as_mut_ptr().cast(),
            ulValueLen: len_to_ck(v.len()),
        }
    }

    #[test]
    fn decodes_by_kind() {
        let mut t = [CK_TRUE];
        let mut class = CKO_SECRET_KEY.to_ne_bytes();
        let mut label = *b"my key";
        let mut mechs: Vec<u8> = [CKM_AES_GCM, CKM_AES_CBC]
            .iter()
            .flat_map(|m| m.to_ne_bytes())
            .collect();
        let raw = [
            attr(CKA_TOKEN, &mut t),
            attr(CKA_CLASS, &mut class),
            attr(CKA_LABEL, &mut label),
            attr(CKA_ALLOWED_MECHANISMS, &mut mechs),
            CK_ATTRIBUTE {
                type_: CKA_ID,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
        ];
        // SAFETY: every pointer refers to a live local with its length.
        let tpl = unsafe { template(raw.as_ptr(), len_to_ck(raw.len())) }.unwrap();
        assert_eq!(
            tpl,
            vec![
                Attribute::new(CKA_TOKEN, AttrValue::Bool(true)),
                Attribute::new(CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY)),
                Attribute::new(CKA_LABEL, AttrValue::Bytes(b"my key".to_vec())),
                Attribute::new(
                    CKA_ALLOWED_MECHANISMS,
                    AttrValue::Mechanisms(vec![CKM_AES_GCM, CKM_AES_CBC])
                ),
                Attribute::new(CKA_ID, AttrValue::Bytes(vec![])),
            ]
        );
    }

    #[test]
    fn rejects_bad_values() {
        let mut two = [1u8, 0];
        let mut four = [0u8; 4];
        let mut seven = [0u8; 7];
        let cases = [
            (attr(CKA_TOKEN, &mut two), Error::AttributeValueInvalid),
            (attr(CKA_CLASS, &mut four), Error::AttributeValueInvalid),
            (
                attr(CKA_ALLOWED_MECHANISMS, &mut seven),
                Error::AttributeValueInvalid,
            ),
            (
                CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: std::ptr::null_mut(),
                    ulValueLen: 3,
                },
                Error::AttributeValueInvalid,
            ),
            (
                CK_ATTRIBUTE {
                    type_: CKA_TOKEN,
                    pValue: std::ptr::null_mut(),
                    ulValueLen: 0,
                },
                Error::AttributeValueInvalid,
            ),
        ];
        for (a, e) in cases {
            // SAFETY: pointers refer to live locals with their lengths, or NULL.
            assert_eq!(unsafe { template(&a, 1) }, Err(e), "type {:#x}", a.type_);
        }
        assert_eq!(
            // SAFETY: NULL array.
            unsafe { template(std::ptr::null(), 1) },
            Err(Error::ArgumentsBad)
        );
        // SAFETY: NULL array with count 0 is the empty template.
        assert_eq!(unsafe { template(std::ptr::null(), 0) }, Ok(vec![]));
    }

    #[test]
    fn nested_templates() {
        let mut f = [CK_FALSE];
        let mut inner = [attr(CKA_EXTRACTABLE, &mut f)];
        let outer = [CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: inner.as_mut_ptr().cast(),
            ulValueLen: len_to_ck(size_of::<CK_ATTRIBUTE>()),
        }];
        // SAFETY: pointers refer to live locals with their lengths.
        let tpl = unsafe { template(outer.as_ptr(), 1) }.unwrap();
        assert_eq!(
            tpl,
            vec![Attribute::new(
                CKA_WRAP_TEMPLATE,
                AttrValue::Template(vec![Attribute::new(
                    CKA_EXTRACTABLE,
                    AttrValue::Bool(false)
                )])
            )]
        );
        // A length that is not a whole number of CK_ATTRIBUTEs.
        let bad = [CK_ATTRIBUTE {
            ulValueLen: 5,
            ..outer[0]
        }];
        assert_eq!(
            // SAFETY: as above (5 < the array's size).
            unsafe { template(bad.as_ptr(), 1) },
            Err(Error::AttributeValueInvalid)
        );
        // Templates inside templates are refused.
        let mut deeper = [outer[0]];
        let deepest = [CK_ATTRIBUTE {
            type_: CKA_UNWRAP_TEMPLATE,
            pValue: deeper.as_mut_ptr().cast(),
            ulValueLen: len_to_ck(size_of::<CK_ATTRIBUTE>()),
        }];
        assert_eq!(
            // SAFETY: as above.
            unsafe { template(deepest.as_ptr(), 1) },
            Err(Error::AttributeValueInvalid)
        );
    }

    #[test]
    fn two_pass_get() {
        let reads = vec![
            AttrRead::Value(AttrValue::Bytes(b"label".to_vec())),
            AttrRead::Sensitive,
            AttrRead::Invalid,
            AttrRead::Value(AttrValue::Ulong(CKO_SECRET_KEY)),
            AttrRead::Value(AttrValue::Bool(true)),
        ];
        let mut t = [
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: CKA_VALUE,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: 0x8123_4567,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: CKA_CLASS,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: CKA_TOKEN,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
        ];
        // Pass 1: lengths.
        // SAFETY: `t` is a live array of 5 attributes with NULL values.
        let r = unsafe { fill(t.as_mut_ptr(), &reads) };
        assert_eq!(r, Err(Error::AttributeSensitive));
        let lens: Vec<CK_ULONG> = t.iter().map(|a| a.ulValueLen).collect();
        assert_eq!(
            lens,
            [
                5,
                CK_UNAVAILABLE_INFORMATION,
                CK_UNAVAILABLE_INFORMATION,
                8,
                1
            ]
        );
        // Pass 2: values, one buffer too small.
        let mut label = [0u8; 5];
        let mut class = [0u8; 8];
        let mut token = [0u8; 0];
        t[0] = attr(CKA_LABEL, &mut label);
        t[3] = attr(CKA_CLASS, &mut class);
        t[4] = attr(CKA_TOKEN, &mut token);
        t[4].pValue = token.as_mut_ptr().cast();
        // SAFETY: as above, values point to live locals with their lengths.
        let r = unsafe { fill(t.as_mut_ptr(), &reads[..1]) };
        assert_eq!(r, Ok(()));
        assert_eq!(&label, b"label");
        // SAFETY: as above.
        let r = unsafe { fill(t.as_mut_ptr().add(3), &reads[3..]) };
        assert_eq!(r, Err(Error::BufferTooSmall));
        assert_eq!(CK_ULONG::from_ne_bytes(class), CKO_SECRET_KEY);
        assert_eq!(t[3].ulValueLen, 8);
        assert_eq!(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        // SAFETY: as above.
        // Precedence: invalid beats too small.
        let r = unsafe { fill(t.as_mut_ptr().add(2), &reads[2..]) };
        assert_eq!(r, Err(Error::AttributeTypeInvalid));
    }

    #[test]
    fn two_pass_get_nested() {
        let read = AttrRead::Value(AttrValue::Template(vec![
            Attribute::new(CKA_EXTRACTABLE, AttrValue::Bool(false)),
            Attribute::new(CKA_LABEL, AttrValue::Bytes(b"ab".to_vec())),
        ]));
        let mut outer = [CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: std::ptr::null_mut(),
            ulValueLen: 0,
        }];
        // SAFETY: live array, NULL value.
        unsafe { fill(outer.as_mut_ptr(), std::slice::from_ref(&read)) }.unwrap();
        assert_eq!(
            outer[0].ulValueLen,
            len_to_ck(2 * size_of::<CK_ATTRIBUTE>())
        );
        // Pass 2: the array, element values NULL → types and lengths.
        let mut inner = [CK_ATTRIBUTE {
            type_: 0,
            pValue: std::ptr::null_mut(),
            ulValueLen: 0,
        }; 2];
        outer[0].pValue = inner.as_mut_ptr().cast();
        // SAFETY: the array holds 2 live elements with NULL values.
        unsafe { fill(outer.as_mut_ptr(), std::slice::from_ref(&read)) }.unwrap();
        assert_eq!((inner[0].type_, inner[0].ulValueLen), (CKA_EXTRACTABLE, 1));
        assert_eq!((inner[1].type_, inner[1].ulValueLen), (CKA_LABEL, 2));
        // Pass 3: element buffers.
        let mut b = [9u8];
        let mut l = [0u8; 2];
        inner[0].pValue = b.as_mut_ptr().cast();
        inner[1].pValue = l.as_mut_ptr().cast();
        outer[0].pValue = inner.as_mut_ptr().cast();
        // SAFETY: element values point to live locals with their lengths.
        unsafe { fill(outer.as_mut_ptr(), std::slice::from_ref(&read)) }.unwrap();
        assert_eq!((b, &l), ([CK_FALSE], b"ab"));
        // Too short an outer array.
        outer[0].ulValueLen = len_to_ck(size_of::<CK_ATTRIBUTE>());
        // SAFETY: as above.
        let r = unsafe { fill(outer.as_mut_ptr(), std::slice::from_ref(&read)) };
        assert_eq!(
            (r, outer[0].ulValueLen),
            (Err(Error::BufferTooSmall), CK_UNAVAILABLE_INFORMATION)
        );
    }

    /// A small deterministic generator (xorshift), for property-style tests without a
    /// dependency.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
        pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn random_type(rng: &mut Rng) -> CK_ATTRIBUTE_TYPE {
        let table = crate::hsm::attrs::TABLE;
        if rng.below(8) == 0 {
            0x8000_0000 | (rng.next() % 1000)
        } else {
            table[rng.below(table.len())].ty
        }
    }

    fn random_value(rng: &mut Rng, ty: AttrType, depth: u8) -> AttrValue {
        match kind(ty) {
            AttrKind::Bool => AttrValue::Bool(rng.below(2) == 1),
            AttrKind::Ulong => AttrValue::Ulong(rng.next()),
            AttrKind::Bytes | AttrKind::Date => {
                let n = rng.below(40);
                AttrValue::Bytes(rng.bytes(n))
            }
            AttrKind::Mechanisms => {
                AttrValue::Mechanisms((0..rng.below(5)).map(|_| rng.next()).collect())
            }
            AttrKind::Template if depth == 0 => AttrValue::Template(
                (0..rng.below(4))
                    .map(|_| {
                        let mut t = random_type(&mut *rng);
                        while kind(t) == AttrKind::Template {
                            t = random_type(&mut *rng);
                        }
                        Attribute::new(t, random_value(&mut *rng, t, 1))
                    })
                    .collect(),
            ),
            AttrKind::Template => AttrValue::Template(vec![]),
        }
    }

    /// Property: any template written by the two-pass protocol (`fill`) parses back to itself.
    #[test]
    fn written_templates_parse_back() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..500 {
            let tpl: Template = (0..rng.below(6))
                .map(|_| {
                    let t = random_type(&mut rng);
                    Attribute::new(t, random_value(&mut rng, t, 0))
                })
                .collect();
            let reads: Vec<AttrRead> = tpl
                .iter()
                .map(|a| AttrRead::Value(a.value.clone()))
                .collect();
            let mut raw: Vec<CK_ATTRIBUTE> = tpl
                .iter()
                .map(|a| CK_ATTRIBUTE {
                    type_: a.ty,
                    pValue: std::ptr::null_mut(),
                    ulValueLen: 0,
                })
                .collect();
            // Pass 1: lengths. Pass 2: buffers (and, for templates, element arrays). Pass 3:
            // element buffers.
            let mut bufs: Vec<Vec<u8>> = Vec::new();
            let mut arrays: Vec<Vec<CK_ATTRIBUTE>> = Vec::new();
            // SAFETY: `raw` is live, its values NULL.
            unsafe { fill(raw.as_mut_ptr(), &reads) }.unwrap();
            for (r, a) in raw.iter_mut().zip(&tpl) {
                if let AttrValue::Template(inner) = &a.value {
                    let mut arr = vec![
                        CK_ATTRIBUTE {
                            type_: 0,
                            pValue: std::ptr::null_mut(),
                            ulValueLen: 0
                        };
                        inner.len()
                    ];
                    r.pValue = arr.as_mut_ptr().cast();
                    arrays.push(arr);
                } else {
                    let mut b = vec![0u8; usize::try_from(r.ulValueLen).unwrap()];
                    r.pValue = b.as_mut_ptr().cast();
                    bufs.push(b);
                }
            }
            // SAFETY: values point to live buffers and arrays of the announced sizes.
            unsafe { fill(raw.as_mut_ptr(), &reads) }.unwrap();
            for arr in &mut arrays {
                for e in arr.iter_mut() {
                    let mut b = vec![0u8; usize::try_from(e.ulValueLen).unwrap()];
                    e.pValue = b.as_mut_ptr().cast();
                    bufs.push(b);
                }
            }
            // SAFETY: as above, element values now point to live buffers.
            unsafe { fill(raw.as_mut_ptr(), &reads) }.unwrap();
            // SAFETY: as above.
            let parsed = unsafe { template(raw.as_ptr(), len_to_ck(raw.len())) }.unwrap();
            assert_eq!(parsed, tpl);
        }
    }

    /// Property: arbitrary lengths and bytes never panic, and every error is one of the two
    /// the spec gives for bad templates.
    #[test]
    fn arbitrary_templates_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let mut bufs: Vec<Vec<u8>> = Vec::new();
            let mut nested: Vec<Vec<CK_ATTRIBUTE>> = Vec::new();
            let mut raw = Vec::new();
            for _ in 0..rng.below(6) {
                let ty = random_type(&mut rng);
                let a = if kind(ty) == AttrKind::Template && rng.below(2) == 0 {
                    let mut inner: Vec<CK_ATTRIBUTE> = (0..rng.below(3))
                        .map(|_| {
                            let n = rng.below(12);
                            let mut b = rng.bytes(n);
                            let a = CK_ATTRIBUTE {
                                type_: random_type(&mut rng),
                                pValue: b.as_mut_ptr().cast(),
                                ulValueLen: len_to_ck(rng.below(n + 1)),
                            };
                            bufs.push(b);
                            a
                        })
                        .collect();
                    let bytes_len = inner.len() * size_of::<CK_ATTRIBUTE>();
                    let a = CK_ATTRIBUTE {
                        type_: ty,
                        pValue: inner.as_mut_ptr().cast(),
                        ulValueLen: len_to_ck(rng.below(bytes_len + 1)),
                    };
                    nested.push(inner);
                    a
                } else if rng.below(10) == 0 {
                    CK_ATTRIBUTE {
                        type_: ty,
                        pValue: std::ptr::null_mut(),
                        ulValueLen: len_to_ck(rng.below(3)),
                    }
                } else {
                    let n = rng.below(20);
                    let mut b = rng.bytes(n);
                    let a = CK_ATTRIBUTE {
                        type_: ty,
                        pValue: b.as_mut_ptr().cast(),
                        ulValueLen: len_to_ck(rng.below(n + 1)),
                    };
                    bufs.push(b);
                    a
                };
                raw.push(a);
            }
            // SAFETY: every value pointer refers to a live buffer at least as long as its
            // announced length, or is NULL.
            match unsafe { template(raw.as_ptr(), len_to_ck(raw.len())) } {
                Ok(t) => {
                    assert_eq!(t.len(), raw.len());
                    for a in &t {
                        match (kind(a.ty), &a.value) {
                            (AttrKind::Bool, AttrValue::Bool(_))
                            | (AttrKind::Ulong, AttrValue::Ulong(_))
                            | (AttrKind::Bytes | AttrKind::Date, AttrValue::Bytes(_))
                            | (AttrKind::Mechanisms, AttrValue::Mechanisms(_))
                            | (AttrKind::Template, AttrValue::Template(_)) => {}
                            (k, v) => panic!("{k:?} decoded as {v:?}"),
                        }
                    }
                }
                Err(e) => assert_eq!(e, Error::AttributeValueInvalid),
            }
        }
    }
}

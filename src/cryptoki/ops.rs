//! Operations of a session: digest (computed here), encrypt / decrypt / sign / verify (in
//! the core, through `OpInit` / `OpUpdate` / `OpFinal` / `OpOneShot`), find cursors and the
//! output-buffer protocol.
//!
//! Output buffers (PKCS#11 §5.2): a NULL buffer asks for the length, too small a buffer gets
//! the length and CKR_BUFFER_TOO_SMALL, and in both cases the operation stays active. A size
//! query must never run an operation twice (a signature or a GCM encryption is not
//! idempotent), so an output-producing call runs once and its output is *stashed* in the
//! operation until the call is repeated with a buffer big enough.
//!
//! Hash-and-sign mechanisms (`Mechanism::prehashed`) hash here and send the digest, as
//! CloudHSM does. Any error from the core ends the operation (the core has dropped it);
//! so does any error of an Update or Final call, as the spec says.

use zeroize::Zeroizing;

use super::session::Session;
use super::slot::{expect_data, expect_done};
use crate::crypto::digest::{digest, Hasher};
use crate::crypto::HashAlg;
use crate::error::{Error, Result};
use crate::hsm::api::{DigestInto, Mechanism, OpId, OpKind, Placed, Request, Response};
use crate::hsm::inplace::output_len;

use cryptoki_sys::{
    CKF_DECRYPT, CKF_DIGEST, CKF_ENCRYPT, CKF_FIND_OBJECTS, CKF_SIGN, CKF_SIGN_RECOVER, CKF_VERIFY,
    CKF_VERIFY_RECOVER,
};

/// What an output-producing call hands back to `ffi`.
#[derive(PartialEq, Eq)]
pub enum Out {
    /// The output, which fits the caller's buffer: copy it, set the length, CKR_OK.
    Done(Zeroizing<Vec<u8>>),
    /// The output's length, when the caller gave no buffer (a size query: CKR_OK) or too
    /// small a one (CKR_BUFFER_TOO_SMALL). The operation stays active.
    Needed(usize),
    /// The output is already in the caller's buffer: set the length, CKR_OK.
    Written(usize),
    /// As `Done`, for an output that is no secret (ciphertext, signature, MAC): no wipe.
    Public(Vec<u8>),
}

impl std::fmt::Debug for Out {
    // Outputs may be plaintext: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Out::Done(d) => write!(f, "Done(len={})", d.len()),
            Out::Needed(n) => write!(f, "Needed({n})"),
            Out::Written(n) => write!(f, "Written({n})"),
            Out::Public(d) => write!(f, "Public(len={})", d.len()),
        }
    }
}

/// Whether an output of `len` bytes fits a buffer of `cap` bytes (`None`: no buffer).
fn fits(cap: Option<usize>, len: usize) -> bool {
    cap.is_some_and(|c| c >= len)
}

/// Which call produced a stashed output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    OneShot,
    Update,
    Final,
}

/// An output computed but not yet delivered.
struct Pending {
    call: Call,
    /// For Update: a digest of the input, so that a repeated call (same input) gets the
    /// stashed output and a new call is not mistaken for it.
    input: Option<Vec<u8>>,
    out: Stash,
}

/// A stashed output: plaintext (decryption) is wiped when dropped, anything else is no secret.
enum Stash {
    Secret(Zeroizing<Vec<u8>>),
    Public(Vec<u8>),
}

impl Stash {
    fn new(kind: OpKind, out: Vec<u8>) -> Stash {
        match kind {
            // Recovered data is wiped too: whoever can verify could recover it, but it is the
            // caller's message.
            OpKind::Decrypt | OpKind::VerifyRecover => Stash::Secret(Zeroizing::new(out)),
            OpKind::Encrypt | OpKind::Sign | OpKind::Verify | OpKind::SignRecover => {
                Stash::Public(out)
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Stash::Secret(v) => v.len(),
            Stash::Public(v) => v.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn into_out(self) -> Out {
        match self {
            Stash::Secret(v) => Out::Done(v),
            Stash::Public(v) => Out::Public(v),
        }
    }
}

/// A core operation (encrypt, decrypt, sign, verify).
struct CoreOp {
    id: OpId,
    mech: Mechanism,
    /// An Update call was made: single-part calls are refused.
    multi: bool,
    /// Hash-and-sign: the local hash of a multi-part sign/verify.
    hasher: Option<Hasher>,
    pending: Option<Pending>,
}

/// A digest operation (local).
struct DigestOp {
    hasher: Hasher,
    multi: bool,
}

/// A C_FindObjects cursor.
struct Find {
    ids: Vec<crate::hsm::api::ObjectId>,
    pos: usize,
}

/// A wrapped key not yet delivered, with the arguments that produced it.
struct PendingWrap {
    mech: Mechanism,
    wrapping: u64,
    key: u64,
    out: Zeroizing<Vec<u8>>,
}

/// Every operation a session can have active.
#[derive(Default)]
pub(crate) struct Ops {
    find: Option<Find>,
    digest: Option<DigestOp>,
    encrypt: Option<CoreOp>,
    decrypt: Option<CoreOp>,
    sign: Option<CoreOp>,
    verify: Option<CoreOp>,
    wrap: Option<PendingWrap>,
    sign_recover: Option<CoreOp>,
    verify_recover: Option<CoreOp>,
    /// A digest moved into the core by C_DigestKey (it has absorbed a key's value).
    digest_core: Option<CoreOp>,
    /// The keyed operation initialized last: CKU_CONTEXT_SPECIFIC logs in for it.
    last_keyed: Option<OpKind>,
    /// The last key handle this session initialized an operation with, its object and the
    /// slot's handle generation then (`Slot::handles_generation`): a session that keeps using
    /// one key resolves its handle without the slot's shared handle map.
    last_key: Option<(u64, crate::hsm::api::ObjectId, u64)>,
}

impl Ops {
    fn slot(&mut self, kind: OpKind) -> &mut Option<CoreOp> {
        match kind {
            OpKind::Encrypt => &mut self.encrypt,
            OpKind::Decrypt => &mut self.decrypt,
            OpKind::Sign => &mut self.sign,
            OpKind::Verify => &mut self.verify,
            OpKind::SignRecover => &mut self.sign_recover,
            OpKind::VerifyRecover => &mut self.verify_recover,
        }
    }

    fn get(&self, kind: OpKind) -> Option<&CoreOp> {
        match kind {
            OpKind::Encrypt => self.encrypt.as_ref(),
            OpKind::Decrypt => self.decrypt.as_ref(),
            OpKind::Sign => self.sign.as_ref(),
            OpKind::Verify => self.verify.as_ref(),
            OpKind::SignRecover => self.sign_recover.as_ref(),
            OpKind::VerifyRecover => self.verify_recover.as_ref(),
        }
    }

    /// End everything; the core operations to cancel.
    pub(crate) fn take_all(&mut self) -> Vec<OpId> {
        let ops = std::mem::take(self);
        [
            ops.encrypt,
            ops.decrypt,
            ops.sign,
            ops.verify,
            ops.sign_recover,
            ops.verify_recover,
            ops.digest_core,
        ]
        .into_iter()
        .flatten()
        .map(|o| o.id)
        .collect()
    }

    /// End the operations named by CKF_* flags (C_SessionCancel); the core operations to
    /// cancel.
    pub(crate) fn cancel(&mut self, flags: u64) -> Vec<OpId> {
        if flags & CKF_FIND_OBJECTS != 0 {
            self.find = None;
        }
        let mut ended = Vec::new();
        if flags & CKF_DIGEST != 0 {
            self.digest = None;
            ended.extend(self.digest_core.take().map(|o| o.id));
        }
        for (flag, kind) in [
            (CKF_ENCRYPT, OpKind::Encrypt),
            (CKF_DECRYPT, OpKind::Decrypt),
            (CKF_SIGN, OpKind::Sign),
            (CKF_VERIFY, OpKind::Verify),
            (CKF_SIGN_RECOVER, OpKind::SignRecover),
            (CKF_VERIFY_RECOVER, OpKind::VerifyRecover),
        ] {
            if flags & flag != 0 {
                if let Some(op) = self.slot(kind).take() {
                    ended.push(op.id);
                }
            }
        }
        ended
    }

    /// The operation a CKU_CONTEXT_SPECIFIC login is for: the keyed operation initialized
    /// last, else any active one.
    pub(crate) fn context_op(&self) -> Option<OpId> {
        let last = self.last_keyed.and_then(|k| self.get(k));
        last.or_else(|| {
            [
                OpKind::Sign,
                OpKind::Decrypt,
                OpKind::Encrypt,
                OpKind::Verify,
            ]
            .into_iter()
            .find_map(|k| self.get(k))
        })
        .map(|o| o.id)
    }
}

/// Mechanisms PKCS#11 defines as single-part only: their Update and Final calls are
/// CKR_FUNCTION_NOT_SUPPORTED (and, being errors, end the operation).
fn single_part_only(mech: &Mechanism) -> bool {
    match mech {
        Mechanism::RsaPkcs
        | Mechanism::RsaX509
        | Mechanism::RsaPkcsPss(_)
        | Mechanism::RsaPkcsOaep(_)
        | Mechanism::Ecdsa
        | Mechanism::AesKeyWrap { .. }
        | Mechanism::AesKeyWrapKwp { .. }
        | Mechanism::Dsa
        | Mechanism::MlDsa(_)
        | Mechanism::MlKem
        | Mechanism::Message(_) => true,
        Mechanism::AesKeyGen
        | Mechanism::GenericSecretKeyGen
        | Mechanism::RsaPkcsKeyPairGen
        | Mechanism::EcKeyPairGen
        | Mechanism::Digest(_)
        | Mechanism::HashRsaPkcs(_)
        | Mechanism::HashRsaPkcsPss(..)
        | Mechanism::HashEcdsa(_)
        | Mechanism::AesEcb
        | Mechanism::AesCbc(_)
        | Mechanism::AesCbcPad(_)
        | Mechanism::AesCtr { .. }
        | Mechanism::AesGcm(_)
        | Mechanism::Hmac { .. }
        | Mechanism::AesCmac { .. }
        | Mechanism::Ecdh1Derive { .. }
        | Mechanism::Des3KeyGen
        | Mechanism::Des3Ecb
        | Mechanism::Des3Cbc(_)
        | Mechanism::Des3CbcPad(_)
        | Mechanism::DhPkcsParameterGen
        | Mechanism::DhPkcsKeyPairGen
        | Mechanism::DhPkcsDerive(_)
        | Mechanism::DsaParameterGen
        | Mechanism::DsaKeyPairGen
        | Mechanism::HashDsa(_) => false,
        Mechanism::CloudhsmAesKeyWrap { .. } | Mechanism::RsaAesKeyWrap { .. } => true,
        Mechanism::EcEdwardsKeyPairGen
        | Mechanism::Eddsa { .. }
        | Mechanism::CloudhsmAesGcm(_)
        | Mechanism::HkdfKeyGen
        | Mechanism::HkdfDerive(_)
        | Mechanism::Sp800108(_)
        | Mechanism::Pbkdf2(_)
        | Mechanism::ConcatenateBaseAndKey(_)
        | Mechanism::ConcatenateBaseAndData(_)
        | Mechanism::ConcatenateDataAndBase(_)
        | Mechanism::XorBaseAndData(_)
        | Mechanism::ExtractKeyFromKey(_)
        | Mechanism::HmacKeyGen(_)
        | Mechanism::AesMac { .. } => false,
        Mechanism::AesCcm(_)
        | Mechanism::ChaCha20KeyGen
        | Mechanism::ChaCha20 { .. }
        | Mechanism::ChaCha20Poly1305 { .. }
        | Mechanism::MlKemKeyPairGen
        | Mechanism::MlDsaKeyPairGen => false,
    }
}

fn fingerprint(data: &[u8]) -> Vec<u8> {
    digest(HashAlg::Sha256, data)
}

/// Deliver `out` if it fits, else stash it in `op` and report its length.
fn deliver_stash(
    op: &mut CoreOp,
    call: Call,
    input: Option<&[u8]>,
    out: Stash,
    cap: Option<usize>,
) -> Out {
    if fits(cap, out.len()) {
        op.pending = None;
        out.into_out()
    } else {
        let n = out.len();
        op.pending = Some(Pending {
            call,
            input: input.map(fingerprint),
            out,
        });
        Out::Needed(n)
    }
}

/// The stashed output for a repeated `call`, if any; CKR_OPERATION_ACTIVE if the stash
/// belongs to another call.
fn take_pending(
    op: &mut CoreOp,
    call: Call,
    input: Option<&[u8]>,
    cap: Option<usize>,
) -> Result<Option<Out>> {
    let Some(p) = op.pending.as_ref() else {
        return Ok(None);
    };
    if p.call != call {
        return Err(Error::OperationActive);
    }
    if call == Call::Update && p.input != input.map(fingerprint) {
        if p.out.is_empty() {
            // Nothing was lost: the previous update's (empty) output needs no delivery.
            op.pending = None;
            return Ok(None);
        }
        return Err(Error::OperationActive);
    }
    if !fits(cap, p.out.len()) {
        return Ok(Some(Out::Needed(p.out.len())));
    }
    let out = op
        .pending
        .take()
        .map_or(Out::Public(Vec::new()), |p| p.out.into_out());
    Ok(Some(out))
}

impl Session {
    // ----- digest (local) -----

    /// C_DigestInit.
    pub fn digest_init(&self, mech: &Mechanism) -> Result<()> {
        let Mechanism::Digest(alg) = mech else {
            return Err(Error::MechanismInvalid);
        };
        let mut ops = self.ops()?;
        if ops.digest.is_some() || ops.digest_core.is_some() {
            return Err(Error::OperationActive);
        }
        ops.digest = Some(DigestOp {
            hasher: Hasher::new(*alg),
            multi: false,
        });
        Ok(())
    }

    /// C_Digest.
    pub fn digest(&self, data: &[u8], cap: Option<usize>) -> Result<Out> {
        let mut ops = self.ops()?;
        if ops.digest_core.is_some() {
            return Err(Error::OperationActive);
        }
        let op = ops.digest.as_ref().ok_or(Error::OperationNotInitialized)?;
        if op.multi {
            return Err(Error::OperationActive);
        }
        let len = op.hasher.alg().len();
        if !fits(cap, len) {
            return Ok(Out::Needed(len));
        }
        let out = digest(op.hasher.alg(), data);
        ops.digest = None;
        Ok(Out::Public(out))
    }

    /// C_DigestUpdate.
    pub fn digest_update(&self, data: &[u8]) -> Result<()> {
        let mut ops = self.ops()?;
        if ops.digest_core.is_some() {
            return self.core_digest_update(&mut ops, data);
        }
        let op = ops.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
        op.hasher.update(data);
        op.multi = true;
        Ok(())
    }

    /// C_DigestFinal.
    pub fn digest_final(&self, cap: Option<usize>) -> Result<Out> {
        let mut ops = self.ops()?;
        if ops.digest_core.is_some() {
            return self.core_digest_final(&mut ops, cap);
        }
        let op = ops.digest.as_ref().ok_or(Error::OperationNotInitialized)?;
        let len = op.hasher.alg().len();
        if !fits(cap, len) {
            return Ok(Out::Needed(len));
        }
        let out = ops
            .digest
            .take()
            .map(|op| op.hasher.finish())
            .unwrap_or_default();
        Ok(Out::Public(out))
    }

    // ----- core operations -----

    /// C_EncryptInit, C_DecryptInit, C_SignInit, C_VerifyInit. Returns the IV the core
    /// generated, if it did (strict CloudHSM mode's AES-GCM encryption), for the caller's
    /// mechanism parameter.
    pub fn op_init(&self, kind: OpKind, mech: Mechanism, key: u64) -> Result<Option<Vec<u8>>> {
        let mut ops = self.ops()?;
        if ops.slot(kind).is_some() {
            return Err(Error::OperationActive);
        }
        let slot = self.slot();
        let generation = slot.handles_generation();
        let key_id = match ops.last_key {
            Some((h, id, g)) if h == key && g == generation => id,
            _ => {
                let id = slot.object(key, Error::KeyHandleInvalid)?;
                ops.last_key = Some((key, id, generation));
                id
            }
        };
        let req = Request::OpInit {
            conn: slot.conn(),
            sid: self.sid(),
            kind,
            mech: mech.clone(),
            key: key_id,
        };
        let r = slot.checked(
            key_id,
            slot.call(req),
            &[Error::ObjectHandleInvalid, Error::KeyHandleInvalid],
            Error::KeyHandleInvalid,
        )?;
        let (id, iv) = match r {
            Response::Op(id) => (id, None),
            Response::OpIv { op, iv } => (op, Some(iv)),
            _ => return Err(Error::GeneralError),
        };
        let hasher = match kind {
            OpKind::Sign | OpKind::Verify => mech.prehashed().map(Hasher::new),
            OpKind::Encrypt | OpKind::Decrypt | OpKind::SignRecover | OpKind::VerifyRecover => None,
        };
        *ops.slot(kind) = Some(CoreOp {
            id,
            mech,
            multi: false,
            hasher,
            pending: None,
        });
        ops.last_keyed = Some(kind);
        Ok(iv)
    }

    /// C_Encrypt, C_Decrypt, C_Sign: single-part, output through the buffer protocol.
    pub fn op_single(&self, kind: OpKind, data: &[u8], cap: Option<usize>) -> Result<Out> {
        let mut ops = self.ops()?;
        let entry = ops.slot(kind);
        let op = entry.as_mut().ok_or(Error::OperationNotInitialized)?;
        if let Some(out) = take_pending(op, Call::OneShot, None, cap)? {
            if matches!(out, Out::Done(_) | Out::Public(_)) {
                *entry = None;
            }
            return Ok(out);
        }
        if op.multi {
            return Err(Error::OperationActive);
        }
        let payload = match op.mech.prehashed() {
            Some(alg) if kind == OpKind::Sign => digest(alg, data),
            _ => data.to_vec(),
        };
        let slot = self.slot();
        let req = Request::OpOneShot {
            conn: slot.conn(),
            op: op.id,
            data: payload,
            extra: Vec::new(),
        };
        let out = match slot.call(req).and_then(expect_data) {
            Ok(out) => Stash::new(kind, out),
            Err(e) => {
                *entry = None;
                return Err(e);
            }
        };
        let out = deliver_stash(op, Call::OneShot, None, out, cap);
        if matches!(out, Out::Done(_) | Out::Public(_)) {
            *entry = None;
        }
        Ok(out)
    }

    /// C_Encrypt, C_Decrypt, C_Sign with the caller's buffer (`None`: a size query): the
    /// output goes straight into it when it fits. An output whose length follows from the
    /// mechanism and the input (ciphers' encryption, MACs) is never computed just to answer a
    /// size query or too small a buffer; any other is computed once and stashed until the
    /// call is repeated with a buffer big enough.
    pub fn op_single_into(&self, kind: OpKind, data: &[u8], out: Option<&mut [u8]>) -> Result<Out> {
        let cap = out.as_ref().map(|b| b.len());
        let mut ops = self.ops()?;
        let entry = ops.slot(kind);
        let op = entry.as_mut().ok_or(Error::OperationNotInitialized)?;
        if let Some(out) = take_pending(op, Call::OneShot, None, cap)? {
            if matches!(out, Out::Done(_) | Out::Public(_)) {
                *entry = None;
            }
            return Ok(out);
        }
        if op.multi {
            return Err(Error::OperationActive);
        }
        if let Some(n) = output_len(kind, &op.mech, data.len()) {
            if !fits(cap, n) {
                return Ok(Out::Needed(n));
            }
        }
        let digest_buf;
        let payload = match op.mech.prehashed() {
            Some(alg) if kind == OpKind::Sign => {
                digest_buf = digest(alg, data);
                &digest_buf[..]
            }
            _ => data,
        };
        let slot = self.slot();
        let mut none = [0u8; 0];
        let buf = match out {
            Some(b) => b,
            None => &mut none[..],
        };
        let placed = match slot.op_one_shot_into(op.id, payload, buf) {
            Ok(p) => p,
            Err(e) => {
                *entry = None;
                return Err(e);
            }
        };
        match placed {
            Placed::Written(n) if cap.is_none() => {
                // A size query met an empty output (nothing to write into an empty buffer):
                // it is still only a size query, and the operation goes on to the real call.
                let out = deliver_stash(op, Call::OneShot, None, Stash::new(kind, Vec::new()), cap);
                debug_assert_eq!(n, 0);
                Ok(out)
            }
            Placed::Written(n) => {
                *entry = None;
                Ok(Out::Written(n))
            }
            Placed::Output(v) => {
                let stash = Stash::new(kind, v);
                let out = deliver_stash(op, Call::OneShot, None, stash, cap);
                if matches!(out, Out::Done(_) | Out::Public(_)) {
                    *entry = None;
                }
                Ok(out)
            }
        }
    }

    /// C_EncryptUpdate, C_DecryptUpdate.
    pub fn op_update(&self, kind: OpKind, data: &[u8], cap: Option<usize>) -> Result<Out> {
        let mut ops = self.ops()?;
        let entry = ops.slot(kind);
        let op = entry.as_mut().ok_or(Error::OperationNotInitialized)?;
        if let Some(out) = take_pending(op, Call::Update, Some(data), cap)? {
            return Ok(out);
        }
        if single_part_only(&op.mech) {
            self.slot().cancel(op.id);
            *entry = None;
            return Err(Error::FunctionNotSupported);
        }
        let slot = self.slot();
        let req = Request::OpUpdate {
            conn: slot.conn(),
            op: op.id,
            data: data.to_vec(),
        };
        let out = match slot.call(req).and_then(expect_data) {
            Ok(out) => Stash::new(kind, out),
            Err(e) => {
                *entry = None;
                return Err(e);
            }
        };
        op.multi = true;
        Ok(deliver_stash(op, Call::Update, Some(data), out, cap))
    }

    /// C_EncryptFinal, C_DecryptFinal, C_SignFinal.
    pub fn op_final(&self, kind: OpKind, cap: Option<usize>) -> Result<Out> {
        let mut ops = self.ops()?;
        let entry = ops.slot(kind);
        let op = entry.as_mut().ok_or(Error::OperationNotInitialized)?;
        if let Some(out) = take_pending(op, Call::Final, None, cap)? {
            if matches!(out, Out::Done(_) | Out::Public(_)) {
                *entry = None;
            }
            return Ok(out);
        }
        let slot = self.slot();
        let req = if let Some(h) = op.hasher.take() {
            Request::OpOneShot {
                conn: slot.conn(),
                op: op.id,
                data: h.finish(),
                extra: Vec::new(),
            }
        } else if single_part_only(&op.mech) {
            slot.cancel(op.id);
            *entry = None;
            return Err(Error::FunctionNotSupported);
        } else {
            Request::OpFinal {
                conn: slot.conn(),
                op: op.id,
                data: Vec::new(),
            }
        };
        let out = match slot.call(req).and_then(expect_data) {
            Ok(out) => Stash::new(kind, out),
            Err(e) => {
                *entry = None;
                return Err(e);
            }
        };
        let out = deliver_stash(op, Call::Final, None, out, cap);
        if matches!(out, Out::Done(_) | Out::Public(_)) {
            *entry = None;
        }
        Ok(out)
    }

    /// C_SignUpdate, C_VerifyUpdate.
    pub fn op_feed(&self, kind: OpKind, data: &[u8]) -> Result<()> {
        let mut ops = self.ops()?;
        let entry = ops.slot(kind);
        let op = entry.as_mut().ok_or(Error::OperationNotInitialized)?;
        if op.pending.is_some() {
            return Err(Error::OperationActive);
        }
        if let Some(h) = op.hasher.as_mut() {
            h.update(data);
            op.multi = true;
            return Ok(());
        }
        if single_part_only(&op.mech) {
            self.slot().cancel(op.id);
            *entry = None;
            return Err(Error::FunctionNotSupported);
        }
        let slot = self.slot();
        let req = Request::OpUpdate {
            conn: slot.conn(),
            op: op.id,
            data: data.to_vec(),
        };
        match slot.call(req) {
            Ok(_) => {
                op.multi = true;
                Ok(())
            }
            Err(e) => {
                *entry = None;
                Err(e)
            }
        }
    }

    /// C_Verify: the operation ends, whatever the outcome.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> Result<()> {
        let mut ops = self.ops()?;
        let entry = ops.slot(OpKind::Verify);
        let op = entry.as_mut().ok_or(Error::OperationNotInitialized)?;
        if op.multi {
            return Err(Error::OperationActive);
        }
        let payload = match op.mech.prehashed() {
            Some(alg) => digest(alg, data),
            None => data.to_vec(),
        };
        let slot = self.slot();
        let req = Request::OpOneShot {
            conn: slot.conn(),
            op: op.id,
            data: payload,
            extra: signature.to_vec(),
        };
        *entry = None;
        slot.call(req).and_then(expect_done)
    }

    /// C_VerifyFinal: the operation ends, whatever the outcome.
    pub fn verify_final(&self, signature: &[u8]) -> Result<()> {
        let mut ops = self.ops()?;
        let entry = ops.slot(OpKind::Verify);
        let op = entry.take().ok_or(Error::OperationNotInitialized)?;
        let slot = self.slot();
        let req = if let Some(h) = op.hasher {
            Request::OpOneShot {
                conn: slot.conn(),
                op: op.id,
                data: h.finish(),
                extra: signature.to_vec(),
            }
        } else if single_part_only(&op.mech) {
            slot.cancel(op.id);
            return Err(Error::FunctionNotSupported);
        } else {
            Request::OpFinal {
                conn: slot.conn(),
                op: op.id,
                data: signature.to_vec(),
            }
        };
        slot.call(req).and_then(expect_done)
    }

    // ----- find -----

    /// C_FindObjectsInit.
    pub fn find_init(&self, template: crate::hsm::api::Template) -> Result<()> {
        let mut ops = self.ops()?;
        if ops.find.is_some() {
            return Err(Error::OperationActive);
        }
        let slot = self.slot();
        let Response::Objects(ids) = slot.call(Request::FindObjects {
            conn: slot.conn(),
            template,
        })?
        else {
            return Err(Error::GeneralError);
        };
        ops.find = Some(Find { ids, pos: 0 });
        Ok(())
    }

    /// C_FindObjects: up to `max` more handles.
    pub fn find_next(&self, max: usize) -> Result<Vec<u64>> {
        let mut ops = self.ops()?;
        let find = ops.find.as_mut().ok_or(Error::OperationNotInitialized)?;
        let end = find.ids.len().min(find.pos.saturating_add(max));
        let slot = self.slot();
        let handles = find.ids[find.pos..end]
            .iter()
            .map(|id| slot.handle(*id))
            .collect();
        find.pos = end;
        Ok(handles)
    }

    /// C_FindObjectsFinal.
    pub fn find_final(&self) -> Result<()> {
        let mut ops = self.ops()?;
        ops.find
            .take()
            .map(|_| ())
            .ok_or(Error::OperationNotInitialized)
    }

    // ----- wrap (output protocol, stashed) -----

    /// C_WrapKey.
    pub fn wrap_key(
        &self,
        mech: Mechanism,
        wrapping: u64,
        key: u64,
        cap: Option<usize>,
    ) -> Result<Out> {
        let mut ops = self.ops()?;
        if let Some(p) = ops.wrap.take() {
            if p.mech == mech && p.wrapping == wrapping && p.key == key {
                if fits(cap, p.out.len()) {
                    return Ok(Out::Done(p.out));
                }
                let n = p.out.len();
                ops.wrap = Some(p);
                return Ok(Out::Needed(n));
            }
        }
        let slot = self.slot();
        let wrapping_id = slot.object(wrapping, Error::WrappingKeyHandleInvalid)?;
        let key_id = slot.object(key, Error::KeyHandleInvalid)?;
        let req = Request::WrapKey {
            conn: slot.conn(),
            mech: mech.clone(),
            wrapping: wrapping_id,
            key: key_id,
        };
        let r = slot.call(req);
        let r = slot.checked(
            wrapping_id,
            r,
            &[Error::WrappingKeyHandleInvalid],
            Error::WrappingKeyHandleInvalid,
        );
        let r = slot.checked(
            key_id,
            r,
            &[Error::KeyHandleInvalid, Error::ObjectHandleInvalid],
            Error::KeyHandleInvalid,
        );
        let out = Zeroizing::new(expect_data(r?)?);
        if fits(cap, out.len()) {
            return Ok(Out::Done(out));
        }
        let n = out.len();
        ops.wrap = Some(PendingWrap {
            mech,
            wrapping,
            key,
            out,
        });
        Ok(Out::Needed(n))
    }
}

// ----- C_DigestKey: the digest moves into the core, where the key's value is -----

impl Session {
    /// C_DigestKey. The first call sends the state of the digest so far (the caller's own
    /// data) to the core, which absorbs the key's value and keeps the digest from then on;
    /// the key's value never crosses the seam. An error ends the digest (spec).
    pub fn digest_key(&self, key: u64) -> Result<()> {
        let mut ops = self.ops()?;
        let slot = self.slot();
        let into = match (&ops.digest_core, &ops.digest) {
            (Some(op), _) => DigestInto::Op(op.id),
            (None, Some(op)) => DigestInto::Start(op.hasher.export()),
            (None, None) => return Err(Error::OperationNotInitialized),
        };
        let alg = match &into {
            DigestInto::Start(s) => s.alg,
            DigestInto::Op(_) => match ops.digest_core.as_ref().map(|o| &o.mech) {
                Some(Mechanism::Digest(a)) => *a,
                _ => return Err(Error::GeneralError),
            },
        };
        let r = slot
            .object(key, Error::KeyHandleInvalid)
            .and_then(|key_id| {
                let r = slot.call(Request::DigestKey {
                    conn: slot.conn(),
                    sid: self.sid(),
                    key: key_id,
                    into,
                });
                slot.checked(
                    key_id,
                    r,
                    &[Error::ObjectHandleInvalid, Error::KeyHandleInvalid],
                    Error::KeyHandleInvalid,
                )
            });
        ops.digest = None;
        match r {
            Ok(Response::Op(id)) => {
                ops.digest_core = Some(CoreOp {
                    id,
                    mech: Mechanism::Digest(alg),
                    multi: true,
                    hasher: None,
                    pending: None,
                });
                Ok(())
            }
            Ok(_) => Err(Error::GeneralError),
            Err(e) => {
                if let Some(op) = ops.digest_core.take() {
                    slot.cancel(op.id);
                }
                Err(e)
            }
        }
    }

    /// C_DigestUpdate of a digest in the core.
    fn core_digest_update(&self, ops: &mut Ops, data: &[u8]) -> Result<()> {
        let op = ops
            .digest_core
            .as_ref()
            .ok_or(Error::OperationNotInitialized)?;
        let slot = self.slot();
        let r = slot.call(Request::OpUpdate {
            conn: slot.conn(),
            op: op.id,
            data: data.to_vec(),
        });
        match r {
            Ok(_) => Ok(()),
            Err(e) => {
                ops.digest_core = None;
                Err(e)
            }
        }
    }

    /// C_DigestFinal of a digest in the core (the length is known: no stash needed).
    fn core_digest_final(&self, ops: &mut Ops, cap: Option<usize>) -> Result<Out> {
        let op = ops
            .digest_core
            .as_ref()
            .ok_or(Error::OperationNotInitialized)?;
        let Mechanism::Digest(alg) = op.mech else {
            return Err(Error::GeneralError);
        };
        if !fits(cap, alg.len()) {
            return Ok(Out::Needed(alg.len()));
        }
        let slot = self.slot();
        let req = Request::OpFinal {
            conn: slot.conn(),
            op: op.id,
            data: Vec::new(),
        };
        ops.digest_core = None;
        Ok(Out::Done(Zeroizing::new(expect_data(slot.call(req)?)?)))
    }
}

//! Message-based operations (PKCS#11 3.0: C_MessageEncryptInit ... C_MessageVerifyFinal) and
//! key encapsulation (3.2: C_EncapsulateKey, C_DecapsulateKey).
//!
//! A session has one message-based operation of each kind (encrypt, decrypt, sign, verify)
//! beside its classic operations; messages do not end it, only C_Message*Final (or the
//! session's end) does. A multi-part message (C_*MessageBegin / C_*MessageNext) is gathered
//! here and sent to the core whole when its last part arrives: nothing of a message is
//! released before its tag is checked, and a tag covers the whole message. The IV that the
//! token generates is made by the core, at C_EncryptMessageBegin for a multi-part message.
//!
//! Output lengths are known before a message runs (AEAD output = input length, the tag is
//! separate; MAC lengths are fixed), so a size query never runs a message and never spends
//! a generated IV.

use zeroize::Zeroizing;

use super::ops::Out;
use super::session::Session;
use super::slot::expect_object;
use crate::error::{Error, Result};
use crate::hsm::api::{
    Mechanism, MessageMech, MessageParams, OpId, OpKind, Request, Response, Template,
};

use cryptoki_sys::{
    CKA_PARAMETER_SET, CKF_MESSAGE_DECRYPT, CKF_MESSAGE_ENCRYPT, CKF_MESSAGE_SIGN,
    CKF_MESSAGE_VERIFY, CKG_NO_GENERATE,
};

/// A multi-part message in progress.
struct Part {
    params: Option<MessageParams>,
    aad: Vec<u8>,
    data: Zeroizing<Vec<u8>>,
}

/// A message-based operation.
struct MsgOp {
    id: OpId,
    mech: MessageMech,
    part: Option<Part>,
}

/// The message-based operations of a session.
#[derive(Default)]
pub(crate) struct MessageOps {
    encrypt: Option<MsgOp>,
    decrypt: Option<MsgOp>,
    sign: Option<MsgOp>,
    verify: Option<MsgOp>,
}

impl MessageOps {
    fn slot(&mut self, kind: OpKind) -> &mut Option<MsgOp> {
        match kind {
            OpKind::Encrypt => &mut self.encrypt,
            OpKind::Decrypt => &mut self.decrypt,
            // The recover kinds have no message form (ffi never asks for them).
            OpKind::Sign | OpKind::SignRecover => &mut self.sign,
            OpKind::Verify | OpKind::VerifyRecover => &mut self.verify,
        }
    }

    /// End everything; the core operations to cancel.
    pub(crate) fn take_all(&mut self) -> Vec<OpId> {
        let ops = std::mem::take(self);
        [ops.encrypt, ops.decrypt, ops.sign, ops.verify]
            .into_iter()
            .flatten()
            .map(|o| o.id)
            .collect()
    }

    /// End the operations named by CKF_MESSAGE_* flags (C_SessionCancel).
    pub(crate) fn cancel(&mut self, flags: u64) -> Vec<OpId> {
        let mut ended = Vec::new();
        for (flag, kind) in [
            (CKF_MESSAGE_ENCRYPT, OpKind::Encrypt),
            (CKF_MESSAGE_DECRYPT, OpKind::Decrypt),
            (CKF_MESSAGE_SIGN, OpKind::Sign),
            (CKF_MESSAGE_VERIFY, OpKind::Verify),
        ] {
            if flags & flag != 0 {
                if let Some(op) = self.slot(kind).take() {
                    ended.push(op.id);
                }
            }
        }
        ended
    }
}

/// A message's output and, for encryption, the IV it used and its tag (to write back into
/// the caller's parameters).
#[derive(Debug, PartialEq, Eq)]
pub struct MessageOut {
    pub out: Out,
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
}

impl MessageOut {
    fn needed(n: usize) -> MessageOut {
        MessageOut {
            out: Out::Needed(n),
            iv: Vec::new(),
            tag: Vec::new(),
        }
    }
}

fn fits(cap: Option<usize>, len: usize) -> bool {
    cap.is_some_and(|c| c >= len)
}

/// The output length of a message of `len` bytes.
fn out_len(kind: OpKind, mech: MessageMech, len: usize) -> usize {
    match (kind, mech) {
        (OpKind::Encrypt | OpKind::Decrypt, _) => len,
        (OpKind::Verify, _) => 0,
        (OpKind::Sign, MessageMech::Hmac { hash, out_len }) => {
            out_len.map_or(hash.len(), |l| usize::try_from(l).unwrap_or(usize::MAX))
        }
        (OpKind::Sign, MessageMech::AesCmac { out_len }) => {
            out_len.map_or(16, |l| usize::try_from(l).unwrap_or(usize::MAX))
        }
        (OpKind::Sign | OpKind::SignRecover | OpKind::VerifyRecover, _) => 0,
    }
}

impl Session {
    /// C_MessageEncryptInit, C_MessageDecryptInit, C_MessageSignInit, C_MessageVerifyInit.
    pub fn message_init(&self, kind: OpKind, mech: MessageMech, key: u64) -> Result<()> {
        let mut msg = self.msg()?;
        if msg.slot(kind).is_some() {
            return Err(Error::OperationActive);
        }
        let slot = self.slot();
        let key_id = slot.object(key, Error::KeyHandleInvalid)?;
        let req = Request::OpInit {
            conn: slot.conn(),
            sid: self.sid(),
            kind,
            mech: Mechanism::Message(mech),
            key: key_id,
        };
        let r = slot.checked(
            key_id,
            slot.call(req),
            &[Error::ObjectHandleInvalid, Error::KeyHandleInvalid],
            Error::KeyHandleInvalid,
        )?;
        let Response::Op(id) = r else {
            return Err(Error::GeneralError);
        };
        *msg.slot(kind) = Some(MsgOp {
            id,
            mech,
            part: None,
        });
        Ok(())
    }

    /// The mechanism of the active message-based operation of `kind`.
    pub fn message_mech(&self, kind: OpKind) -> Result<MessageMech> {
        let mut msg = self.msg()?;
        msg.slot(kind)
            .as_ref()
            .map(|o| o.mech)
            .ok_or(Error::OperationNotInitialized)
    }

    fn run_message(
        &self,
        op: OpId,
        params: Option<MessageParams>,
        aad: Vec<u8>,
        data: Vec<u8>,
        extra: Vec<u8>,
    ) -> Result<MessageOut> {
        let slot = self.slot();
        let r = slot.call(Request::Message {
            conn: slot.conn(),
            op,
            params,
            aad,
            data,
            extra,
        })?;
        match r {
            Response::Message { data, iv, tag } => Ok(MessageOut {
                out: Out::Done(Zeroizing::new(data)),
                iv,
                tag,
            }),
            _ => Err(Error::GeneralError),
        }
    }

    /// C_EncryptMessage, C_DecryptMessage, C_SignMessage, C_VerifyMessage (`extra`: the
    /// signature). The operation stays active.
    pub fn message_one(
        &self,
        kind: OpKind,
        params: Option<MessageParams>,
        aad: &[u8],
        data: &[u8],
        extra: &[u8],
        cap: Option<usize>,
    ) -> Result<MessageOut> {
        let mut msg = self.msg()?;
        let op = msg
            .slot(kind)
            .as_ref()
            .ok_or(Error::OperationNotInitialized)?;
        if op.part.is_some() {
            return Err(Error::OperationActive);
        }
        let n = out_len(kind, op.mech, data.len());
        if kind != OpKind::Verify && !fits(cap, n) {
            return Ok(MessageOut::needed(n));
        }
        self.run_message(op.id, params, aad.to_vec(), data.to_vec(), extra.to_vec())
    }

    /// C_EncryptMessageBegin, C_DecryptMessageBegin, C_SignMessageBegin,
    /// C_VerifyMessageBegin. For encryption with a generated IV, the IV (to write back).
    pub fn message_begin(
        &self,
        kind: OpKind,
        params: Option<MessageParams>,
        aad: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let mut msg = self.msg()?;
        let op = msg
            .slot(kind)
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?;
        if op.part.is_some() {
            return Err(Error::OperationActive);
        }
        let mut generated = None;
        let params = match params {
            Some(mut p) if p.generator != CKG_NO_GENERATE => {
                let slot = self.slot();
                let r = slot.call(Request::MessageIv {
                    conn: slot.conn(),
                    op: op.id,
                    params: p.clone(),
                })?;
                let Response::Data(iv) = r else {
                    return Err(Error::GeneralError);
                };
                p.iv.clone_from(&iv);
                p.generator = CKG_NO_GENERATE;
                generated = Some(iv);
                Some(p)
            }
            other => other,
        };
        op.part = Some(Part {
            params,
            aad: aad.to_vec(),
            data: Zeroizing::new(Vec::new()),
        });
        Ok(generated)
    }

    /// C_EncryptMessageNext, C_DecryptMessageNext, C_SignMessageNext, C_VerifyMessageNext.
    /// Parts before the last produce no output; the last runs the whole message (`params`
    /// give a decryption's tag; `extra` is a verification's signature) and ends it.
    #[allow(clippy::too_many_arguments)]
    pub fn message_next(
        &self,
        kind: OpKind,
        params: Option<MessageParams>,
        data: &[u8],
        last: bool,
        extra: &[u8],
        cap: Option<usize>,
    ) -> Result<MessageOut> {
        let mut msg = self.msg()?;
        let op = msg
            .slot(kind)
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?;
        let part = op.part.as_mut().ok_or(Error::OperationNotInitialized)?;
        if !last {
            if matches!(kind, OpKind::Encrypt | OpKind::Decrypt) && cap.is_none() {
                // A size query: no output, and the part is not taken.
                return Ok(MessageOut::needed(0));
            }
            part.data.extend_from_slice(data);
            return Ok(MessageOut {
                out: Out::Done(Zeroizing::new(Vec::new())),
                iv: Vec::new(),
                tag: Vec::new(),
            });
        }
        let n = out_len(kind, op.mech, part.data.len() + data.len());
        if kind != OpKind::Verify && !fits(cap, n) {
            return Ok(MessageOut::needed(n));
        }
        let Some(mut part) = op.part.take() else {
            return Err(Error::OperationNotInitialized);
        };
        part.data.extend_from_slice(data);
        // The IV (maybe generated) is the one fixed at Begin; a decryption's tag comes now.
        let params = match (part.params, params) {
            (Some(mut begun), Some(now)) => {
                begun.tag = now.tag;
                begun.tag_len = now.tag_len;
                Some(begun)
            }
            (begun, _) => begun,
        };
        let id = op.id;
        self.run_message(
            id,
            params,
            part.aad,
            std::mem::take(&mut *part.data),
            extra.to_vec(),
        )
    }

    /// C_MessageEncryptFinal, C_MessageDecryptFinal, C_MessageSignFinal,
    /// C_MessageVerifyFinal: the operation ends (a message in progress is dropped).
    pub fn message_final(&self, kind: OpKind) -> Result<()> {
        let mut msg = self.msg()?;
        let op = msg
            .slot(kind)
            .take()
            .ok_or(Error::OperationNotInitialized)?;
        self.slot().cancel(op.id);
        Ok(())
    }

    // ----- key encapsulation (3.2)

    /// The ciphertext length C_EncapsulateKey will produce with this public key.
    pub fn encapsulate_len(&self, key: u64) -> Result<usize> {
        let reads = self.get_attributes(key, vec![CKA_PARAMETER_SET])?;
        match reads.first() {
            Some(crate::hsm::api::AttrRead::Value(crate::hsm::api::AttrValue::Ulong(set))) => {
                crate::hsm::aead_pq::mlkem_ciphertext_len(*set)
                    .map_err(|_| Error::KeyTypeInconsistent)
            }
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// C_EncapsulateKey: (new key's handle, ciphertext).
    pub fn encapsulate(
        &self,
        mech: Mechanism,
        key: u64,
        template: Template,
    ) -> Result<(u64, Vec<u8>)> {
        self.check_open()?;
        let slot = self.slot();
        let id = slot.object(key, Error::KeyHandleInvalid)?;
        let r = slot.call(Request::Encapsulate {
            conn: slot.conn(),
            sid: self.sid(),
            mech,
            key: id,
            template,
        });
        let gone = [Error::KeyHandleInvalid, Error::ObjectHandleInvalid];
        match slot.checked(id, r, &gone, Error::KeyHandleInvalid)? {
            Response::Encapsulated { key, ciphertext } => Ok((slot.handle(key), ciphertext)),
            _ => Err(Error::GeneralError),
        }
    }

    /// C_DecapsulateKey: the new key's handle.
    pub fn decapsulate(
        &self,
        mech: Mechanism,
        key: u64,
        ciphertext: Vec<u8>,
        template: Template,
    ) -> Result<u64> {
        self.check_open()?;
        let slot = self.slot();
        let id = slot.object(key, Error::KeyHandleInvalid)?;
        let r = slot.call(Request::Decapsulate {
            conn: slot.conn(),
            sid: self.sid(),
            mech,
            key: id,
            ciphertext,
            template,
        });
        let gone = [Error::KeyHandleInvalid, Error::ObjectHandleInvalid];
        let r = slot.checked(id, r, &gone, Error::KeyHandleInvalid)?;
        Ok(slot.handle(expect_object(r)?))
    }
}

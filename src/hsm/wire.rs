//! The wire format of the seam: every request and response encoded with postcard, as the
//! network node will carry them. `WireHsm` wraps an `Hsm` and round-trips each call through
//! the encoding, so the whole test suite can prove the seam is plain data.

use std::sync::Arc;

use super::api::{Hsm, Request, Response};
use crate::error::{Error, Result};

/// Format version prefixed to every message.
pub const WIRE_VERSION: u8 = 1;

/// Encode a request.
pub fn encode_request(req: &Request) -> Result<Vec<u8>> {
    encode(req)
}

/// Decode a request.
pub fn decode_request(bytes: &[u8]) -> Result<Request> {
    decode(bytes)
}

/// Encode a response (or the error that answers the request).
pub fn encode_response(resp: &Result<Response>) -> Result<Vec<u8>> {
    encode(resp)
}

/// Decode a response.
pub fn decode_response(bytes: &[u8]) -> Result<Result<Response>> {
    decode(bytes)
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_extend(v, vec![WIRE_VERSION]).map_err(|_| Error::GeneralError)
}

fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&WIRE_VERSION, rest)) => postcard::from_bytes(rest).map_err(|_| Error::DeviceError),
        _ => Err(Error::DeviceError),
    }
}

/// An `Hsm` reached through the wire encoding (in-process).
pub struct WireHsm {
    inner: Arc<dyn Hsm>,
}

impl WireHsm {
    pub fn new(inner: Arc<dyn Hsm>) -> Self {
        WireHsm { inner }
    }
}

impl Hsm for WireHsm {
    fn call(&self, req: Request) -> Result<Response> {
        let req_bytes = encode_request(&req)?;
        drop(req);
        let decoded = decode_request(&req_bytes)?;
        let result = self.inner.call(decoded);
        let resp_bytes = encode_response(&result)?;
        decode_response(&resp_bytes)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::api::*;

    #[test]
    fn round_trips() {
        let req = Request::CreateObject {
            conn: ConnId(7),
            sid: SessionId(3),
            template: vec![Attribute::new(3, AttrValue::Bytes(b"label".to_vec()))],
        };
        let bytes = encode_request(&req).unwrap();
        assert!(matches!(
            decode_request(&bytes).unwrap(),
            Request::CreateObject {
                conn: ConnId(7),
                ..
            }
        ));
        let resp: Result<Response> = Err(crate::error::Error::PinLocked);
        let back = decode_response(&encode_response(&resp).unwrap()).unwrap();
        assert_eq!(back.err(), Some(crate::error::Error::PinLocked));
        // Garbage is an error, never a panic.
        for n in 0..bytes.len() {
            let _ = decode_request(&bytes[..n]);
        }
        assert!(decode_request(&[2, 0, 0]).is_err());
    }
}

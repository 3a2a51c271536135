//! The one place that knows how IPC payloads are encoded (bincode 2 with
//! serde), so the encoding can be swapped without touching a protocol.
//!
//! Decoding is bounded twice: the frame layer refuses frames above its cap
//! before reading them, and bincode is given the same cap so a length prefix
//! inside a payload cannot make it allocate more than the frame could hold.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest payload any decoder here accepts, whatever the frame cap.
pub const MAX_PAYLOAD: usize = 4 << 20;

fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_PAYLOAD>,
> {
    bincode::config::standard().with_limit::<MAX_PAYLOAD>()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    #[error("cannot decode payload: {0}")]
    Decode(String),
    #[error("payload has {0} bytes left over after the message")]
    TrailingData(usize),
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// Appends the encoding of `msg` to `out`.
pub fn encode_into<T: Serialize>(msg: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::serde::encode_into_std_write(msg, out, config())
        .map(|_| ())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(msg, &mut out)?;
    Ok(out)
}

/// Decodes exactly one message that must fill `bytes`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (msg, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::TrailingData(bytes.len() - used));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Msg {
        A { x: u32, name: String },
        B(Vec<u32>),
    }

    #[test]
    fn round_trip() {
        let m = Msg::A {
            x: 300,
            name: "é".into(),
        };
        let bytes = encode(&m).unwrap();
        // variant 0, varint 300 (0xfb 0x2c 0x01), string of 2 bytes.
        assert_eq!(bytes, [0x00, 0xfb, 0x2c, 0x01, 0x02, 0xc3, 0xa9]);
        assert_eq!(decode::<Msg>(&bytes).unwrap(), m);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&Msg::B(vec![1])).unwrap();
        bytes.push(0);
        assert_eq!(decode::<Msg>(&bytes), Err(CodecError::TrailingData(1)));
    }

    #[test]
    fn truncated_and_unknown_variant() {
        assert!(matches!(
            decode::<Msg>(&[0x00, 0xfb]),
            Err(CodecError::Decode(_))
        ));
        assert!(matches!(decode::<Msg>(&[0x07]), Err(CodecError::Decode(_))));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // Variant B with a claimed element count of 2^62.
        let bytes = [0x01, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x40];
        assert!(matches!(decode::<Msg>(&bytes), Err(CodecError::Decode(_))));
    }
}

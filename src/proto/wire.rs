//! bincode options for the fixed binary layouts (header, fixed parts of Pong, Push and
//! QueryHit): fixed-width integers, little-endian, no length prefixes for arrays.
//! Variable parts (NUL-terminated text, result lists, GGEP) are coded by hand elsewhere.

use bincode::Options;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .allow_trailing_bytes()
}

/// Decodes a fixed layout from the front of `buf`; None when `buf` is too short.
pub(super) fn decode_fixed<'a, T: serde::Deserialize<'a>>(buf: &'a [u8]) -> Option<T> {
    options().deserialize(buf).ok()
}

/// Appends a fixed layout to `out`.
pub(super) fn encode_fixed<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) {
    // Writing fixed-size integers and arrays into a Vec cannot fail.
    options()
        .serialize_into(out, value)
        .expect("fixed layout serialises into a Vec");
}

/// Reads bytes up to (not including) the first NUL in `buf`. Returns the text and the
/// number of bytes consumed including the NUL, or None when there is no NUL.
pub(super) fn take_until_nul(buf: &[u8]) -> Option<(&[u8], usize)> {
    let end = buf.iter().position(|&b| b == 0)?;
    Some((&buf[..end], end + 1))
}

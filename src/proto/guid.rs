//! The 16-byte descriptor ID (GUID) and the servent ID, which share one type.

use std::fmt;

/// A 16-byte Gnutella GUID: a descriptor ID or a servent ID.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Marks a GUID as modern servents do: byte 8 = 0xFF ("new servent"), byte 15 = 0x00
    /// (reserved). gtk-gnutella and LimeWire both set these.
    pub fn mark_modern(mut bytes: [u8; 16]) -> Guid {
        bytes[8] = 0xFF;
        bytes[15] = 0x00;
        Guid(bytes)
    }

    /// A fresh random GUID (UUID v4 from the OS RNG), marked as modern.
    pub fn new_v4() -> Guid {
        Guid::mark_modern(*uuid::Uuid::new_v4().as_bytes())
    }

    /// A GUID drawn from a caller-supplied RNG (the core is deterministic: its RNG is
    /// seeded), laid out as a UUID v4 and marked as modern.
    pub fn from_rng<R: rand::RngCore + ?Sized>(rng: &mut R) -> Guid {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        Guid::mark_modern(*uuid.as_bytes())
    }

    /// The 16 bytes, in wire order.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex digits (either case), as in the `GUID:` handshake header.
    pub fn from_hex(s: &str) -> Option<Guid> {
        let s = s.trim().as_bytes();
        if s.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Guid(out))
    }
}

impl fmt::Display for Guid {
    /// 32 upper-case hex digits, as gtk-gnutella writes the `GUID:` header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn modern_marks_and_hex_round_trip() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let g = Guid::from_rng(&mut rng);
        assert_eq!(g.0[8], 0xFF);
        assert_eq!(g.0[15], 0x00);
        assert_eq!(Guid::from_hex(&g.to_string()), Some(g));
        assert_eq!(Guid::from_hex("xyz"), None);
        let v4 = Guid::new_v4();
        assert_eq!((v4.0[8], v4.0[15]), (0xFF, 0x00));
    }
}

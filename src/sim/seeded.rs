//! Deterministic randomness for the simulator: object ids and `$batch` response orders derive
//! from the seed, so a sequential client sees the same ids and orders on every run.
//!
//! Input: the seed and what is being drawn for (tenant, counter, batch ids). Output: GUIDs,
//! 64-bit draws and shuffles.

use sha2::{Digest, Sha256};

/// 64 bits derived from the seed and a label.
pub(crate) fn derive(seed: u64, label: &str) -> u64 {
    let digest = Sha256::digest(format!("tenantform-sim/{seed}/{label}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// A GUID (version 4 layout) derived from the seed and a label.
pub(crate) fn guid(seed: u64, label: &str) -> String {
    let digest = Sha256::digest(format!("tenantform-sim-guid/{seed}/{label}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// SplitMix64: a small, fast, seedable generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting at `state`.
    pub(crate) fn new(state: u64) -> SplitMix64 {
        SplitMix64(state)
    }

    /// The next 64 bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher-Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_deterministic_and_distinct() {
        assert_eq!(guid(1, "a"), guid(1, "a"));
        assert_ne!(guid(1, "a"), guid(2, "a"));
        assert!(crate::source::model::is_guid(&guid(1, "a")));
    }

    #[test]
    fn shuffles_are_seeded_permutations() {
        let mut a: Vec<u32> = (0..20).collect();
        let mut b = a.clone();
        SplitMix64::new(7).shuffle(&mut a);
        SplitMix64::new(7).shuffle(&mut b);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        assert_ne!(a, sorted);
    }
}

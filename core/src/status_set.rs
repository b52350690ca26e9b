//! A set of HTTP status codes as a bitmap: one shift and one mask per lookup on the hot path,
//! instead of scanning the configured lists.

/// Status codes 0..1024 (the `http` crate allows 100..=999).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StatusSet([u64; 16]);

impl StatusSet {
    pub(crate) fn new(codes: &[u16]) -> Self {
        let mut bits = [0u64; 16];
        for &c in codes {
            if let Some(word) = bits.get_mut(usize::from(c / 64)) {
                *word |= 1 << (c % 64);
            }
        }
        StatusSet(bits)
    }

    pub(crate) fn contains(&self, code: u16) -> bool {
        self.0
            .get(usize::from(code / 64))
            .is_some_and(|w| w & (1 << (code % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::StatusSet;

    #[test]
    fn matches_the_list_it_was_built_from() {
        let codes = [100, 401, 403, 429, 502, 503, 504, 999];
        let set = StatusSet::new(&codes);
        for c in 0..1100u16 {
            assert_eq!(set.contains(c), codes.contains(&c), "{c}");
        }
        assert!(!StatusSet::new(&[]).contains(401));
        assert!(!StatusSet::new(&[5000]).contains(5000 % 1024));
    }
}

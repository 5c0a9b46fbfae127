//! A fixed-size set of small integers, one bit each.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    /// An empty set that can hold `0..bits`.
    pub fn new(bits: usize) -> Self {
        BitSet {
            words: vec![0; bits.div_ceil(64)],
        }
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn union_with(&mut self, other: &BitSet) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
    }

    pub fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// The size of the union with `other`, without making it.
    pub fn union_len(&self, other: &BitSet) -> u64 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| u64::from((a | b).count_ones()))
            .sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        bits(self.words.iter().copied())
    }

    /// The members that `other` lacks.
    pub fn iter_without<'a>(&'a self, other: &'a BitSet) -> impl Iterator<Item = usize> + 'a {
        bits(self.words.iter().zip(&other.words).map(|(a, b)| a & !b))
    }
}

/// The set bits of `words`, the first word holding 0 to 63.
fn bits(words: impl Iterator<Item = u64>) -> impl Iterator<Item = usize> {
    words.enumerate().flat_map(|(i, word)| {
        let mut w = word;
        std::iter::from_fn(move || {
            if w == 0 {
                return None;
            }
            let bit = w.trailing_zeros() as usize;
            w &= w - 1;
            Some(i * 64 + bit)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_and_counts() {
        let mut a = BitSet::new(130);
        let mut b = BitSet::new(130);
        a.insert(0);
        a.insert(129);
        b.insert(129);
        b.insert(64);
        assert_eq!(a.len(), 2);
        assert_eq!(a.union_len(&b), 3);
        assert_eq!(a.iter_without(&b).collect::<Vec<_>>(), vec![0]);
        assert_eq!(b.iter_without(&a).collect::<Vec<_>>(), vec![64]);
        a.union_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 64, 129]);
    }
}

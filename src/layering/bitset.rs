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

/// A [`BitSet`] as its non-empty words alone: as quick to walk as the set
/// is small, whatever the range it may hold.
pub struct SparseBitSet {
    /// (word index, word), ascending.
    words: Vec<(u32, u64)>,
}

impl From<&BitSet> for SparseBitSet {
    fn from(set: &BitSet) -> Self {
        let words = set
            .words
            .iter()
            .enumerate()
            .filter(|(_, word)| **word != 0)
            .map(|(i, &word)| (i as u32, word))
            .collect();
        SparseBitSet { words }
    }
}

impl SparseBitSet {
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words
            .iter()
            .flat_map(|&(i, word)| word_bits(i as usize, word))
    }
}

/// The set bits of `words`, the first word holding 0 to 63.
fn bits(words: impl Iterator<Item = u64>) -> impl Iterator<Item = usize> {
    words.enumerate().flat_map(|(i, word)| word_bits(i, word))
}

/// The set bits of `word`, the `index`th word of a set.
fn word_bits(index: usize, word: u64) -> impl Iterator<Item = usize> {
    let mut w = word;
    std::iter::from_fn(move || {
        if w == 0 {
            return None;
        }
        let bit = w.trailing_zeros() as usize;
        w &= w - 1;
        Some(index * 64 + bit)
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

    #[test]
    fn a_sparse_set_holds_the_same_members() {
        let mut set = BitSet::new(1000);
        assert_eq!(SparseBitSet::from(&set).iter().count(), 0);
        // Empty words between members, two in one word, the last bit.
        for i in [3, 5, 64, 127, 500, 999] {
            set.insert(i);
        }
        let sparse = SparseBitSet::from(&set);
        assert_eq!(sparse.words.len(), 4);
        assert_eq!(
            sparse.iter().collect::<Vec<_>>(),
            vec![3, 5, 64, 127, 500, 999]
        );
    }
}

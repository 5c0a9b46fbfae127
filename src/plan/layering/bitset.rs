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
        self.words.iter().enumerate().flat_map(|(i, &word)| {
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

    /// Adds the members of `other`, and says how many were not members.
    pub fn insert_counting(&mut self, other: &SparseBitSet) -> u64 {
        other
            .words
            .iter()
            .map(|&(i, word)| {
                let mine = &mut self.words[i as usize];
                let added = word & !*mine;
                *mine |= word;
                u64::from(added.count_ones())
            })
            .sum()
    }

    pub fn clear(&mut self) {
        self.words.fill(0);
    }
}

/// A [`BitSet`] as its non-empty words alone: as quick to walk as the set
/// is small, whatever the range it may hold.
#[derive(Default)]
pub struct SparseBitSet {
    /// (word index, word), ascending.
    words: Vec<(u32, u64)>,
}

impl From<&BitSet> for SparseBitSet {
    fn from(set: &BitSet) -> Self {
        SparseBitSet::of_words(set.words.iter().copied())
    }
}

impl SparseBitSet {
    /// The members of `set` that `other` lacks.
    pub fn difference(set: &BitSet, other: &BitSet) -> Self {
        SparseBitSet::of_words(set.words.iter().zip(&other.words).map(|(a, b)| a & !b))
    }

    /// The non-empty words of `words`, by their index. An index fits in
    /// u32: a set of 2^38 bits would take 32 GiB.
    fn of_words(words: impl Iterator<Item = u64>) -> Self {
        let words = words
            .enumerate()
            .filter(|(_, word)| *word != 0)
            .map(|(i, word)| (i as u32, word))
            .collect();
        SparseBitSet { words }
    }
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
        a.union_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 64, 129]);
        a.clear();
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn sparse_sets_hold_their_non_empty_words() {
        let (mut set, mut other) = (BitSet::new(1000), BitSet::new(1000));
        assert_eq!(SparseBitSet::from(&set).words.len(), 0);
        // Empty words between members, two in one word, the last bit.
        for i in [3, 5, 64, 127, 500, 999] {
            set.insert(i);
        }
        for i in [5, 127, 128, 999] {
            other.insert(i);
        }
        let sparse = SparseBitSet::from(&set);
        assert_eq!(sparse.words.len(), 4);
        let difference = SparseBitSet::difference(&set, &other);
        assert_eq!(difference.words.len(), 3);

        // Adding counts only the new members.
        let mut union = BitSet::new(1000);
        assert_eq!(union.insert_counting(&difference), 3);
        assert_eq!(union.iter().collect::<Vec<_>>(), vec![3, 64, 500]);
        assert_eq!(union.insert_counting(&sparse), 3);
        assert_eq!(union, set);
        assert_eq!(union.insert_counting(&sparse), 0);
    }
}

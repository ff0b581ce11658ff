//! `--shard I/N`: a deterministic 1/N of the objects; the N shards together are one run.

use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Objects are taken by position in the sorted object list, so shard sizes differ by at most one.
    pub fn select<T: Clone>(&self, sorted: &[T]) -> Vec<T> {
        sorted.iter().skip(self.index).step_by(self.count).cloned().collect()
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_objects() {
        let objects: Vec<u32> = (0..10).collect();
        let mut all: Vec<u32> = (0..3).flat_map(|i| Shard { index: i, count: 3 }.select(&objects)).collect();
        all.sort();
        assert_eq!(all, objects);
        assert_eq!(Shard::WHOLE.select(&objects), objects);
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}

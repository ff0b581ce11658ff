//! `--shard I/N`: a deterministic 1/N of the objects; the N shards together are one run.
//!
//! An object belongs to shard `h mod N`, where `h` is the first 8 bytes (little-endian u64) of
//! the BLAKE3 hash of its key `<synset>/<object_id>`: membership depends on the object alone, not
//! on which other objects the run has, so adding objects never moves existing ones between shards.

use std::str::FromStr;

use dataset::ObjectKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether the object belongs to this shard (see the module's documentation for the hash).
    pub fn owns(&self, key: &ObjectKey) -> bool {
        let hash = blake3::hash(key.to_string().as_bytes());
        let first: [u8; 8] = hash.as_bytes()[..8].try_into().expect("a BLAKE3 hash has 32 bytes");
        u64::from_le_bytes(first) % self.count as u64 == self.index as u64
    }

    /// This shard's objects, in the order given.
    pub fn select<T: Clone>(&self, objects: &[(ObjectKey, T)]) -> Vec<(ObjectKey, T)> {
        objects.iter().filter(|(key, _)| self.owns(key)).cloned().collect()
    }

    /// `shards/<i>-of-<n>.json`, relative to the dataset folder.
    pub fn manifest_name(&self) -> String {
        format!("{}-of-{}.json", self.index, self.count)
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
    fn shards_partition_the_objects_by_key_alone() {
        let objects: Vec<(ObjectKey, ())> =
            (0..30).map(|i| (ObjectKey::new("02691156", &format!("obj{i}")).unwrap(), ())).collect();
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut all: Vec<_> = shards.iter().flat_map(|s| s.select(&objects)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sorted = objects.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(all, sorted);
        assert!(shards.iter().all(|s| !s.select(&objects).is_empty()));
        assert_eq!(Shard::WHOLE.select(&objects), objects);
        // Removing other objects does not move one between shards.
        let alone = &objects[7..8];
        for s in &shards {
            assert_eq!(s.select(alone).len(), usize::from(s.owns(&objects[7].0)));
        }
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}

//! Deterministic object-level train/val split.
//!
//! Within each synset, objects are ordered by a keyed hash of (seed, synset, id) and the first
//! `round(n * val_fraction)` go to val (at least one per split for classes of two or more). The
//! result depends only on the set of objects, never on the order they were found or rendered in.

use std::collections::BTreeMap;

use crate::factors;
use crate::ObjectKey;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<ObjectKey>,
    pub val: Vec<ObjectKey>,
}

/// Val objects of a class of `n`: `round(n * fraction)`, but at least one in each split when the
/// class has two objects or more and the fraction is strictly between 0 and 1.
fn val_count(n: usize, fraction: f64) -> usize {
    let rounded = (n as f64 * fraction).round() as usize;
    if n >= 2 && fraction > 0.0 && fraction < 1.0 {
        rounded.clamp(1, n - 1)
    } else {
        rounded.min(n)
    }
}

pub fn split_objects(objects: &[ObjectKey], val_fraction: f64, seed: u64) -> Split {
    let mut by_class: BTreeMap<&str, Vec<(u64, &ObjectKey)>> = BTreeMap::new();
    for o in objects {
        let mut r = factors::stream(seed, "split", &[&o.synset, &o.object_id]);
        let mut b = [0u8; 8];
        r.fill(&mut b);
        by_class.entry(&o.synset).or_default().push((u64::from_le_bytes(b), o));
    }
    let mut split = Split::default();
    for (_, mut members) in by_class {
        members.sort();
        members.dedup_by(|a, b| a.1 == b.1);
        let n_val = val_count(members.len(), val_fraction);
        for (i, (_, o)) in members.into_iter().enumerate() {
            if i < n_val { &mut split.val } else { &mut split.train }.push(o.clone());
        }
    }
    split.train.sort();
    split.val.sort();
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<ObjectKey> {
        (0..n).map(|i| ObjectKey::new(&format!("{:08}", i % 3), &format!("obj{i}")).unwrap()).collect()
    }

    #[test]
    fn order_independent_stratified_and_complete() {
        let objects = keys(30);
        let a = split_objects(&objects, 0.2, 0);
        let mut reversed = objects.clone();
        reversed.reverse();
        assert_eq!(a, split_objects(&reversed, 0.2, 0));
        assert_eq!(a.val.len(), 6);
        assert_eq!(a.train.len() + a.val.len(), 30);
        for class in ["00000000", "00000001", "00000002"] {
            assert_eq!(a.val.iter().filter(|k| k.synset == class).count(), 2);
        }
        assert_ne!(a, split_objects(&objects, 0.2, 1));
    }

    #[test]
    fn small_classes_keep_both_splits() {
        assert_eq!((val_count(2, 0.2), val_count(1, 0.2), val_count(10, 0.2)), (1, 0, 2));
        assert_eq!((val_count(5, 0.0), val_count(5, 1.0), val_count(3, 0.99)), (0, 5, 2));
    }
}

//! `render merge DIR`: the root manifests of a job rendered as N shards, from their
//! `shards/<i>-of-<n>.json`, byte-identical to what one process would have written.
//!
//! Every shard must be there and complete, and all must come from one job (same generator,
//! settings, configuration and object list): a mix would make a dataset no single run makes.
//! "Complete" allows objects that failed under `--keep-going`: they are listed as failures, as
//! the one-process run with `--keep-going` lists them.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use dataset::records::Failure;
use dataset::ObjectKey;
use rayon::prelude::*;

use super::manifests::{self, Contents};
use super::shard_manifest::{ShardManifest, SHARDS_DIR};
use super::{plan, resume, Shard};

/// What a merge wrote.
pub struct MergeSummary {
    pub shards: usize,
    pub counts: manifests::ManifestCounts,
    /// Objects that failed under `--keep-going`, sorted by object (as `manifest.json` lists them).
    pub failures: Vec<Failure>,
}

/// The shard counts `n` of the files `<i>-of-<n>.json` in `shards/`, with one file of each.
fn shard_files(dir: &Path) -> anyhow::Result<BTreeMap<usize, PathBuf>> {
    let shards = dir.join(SHARDS_DIR);
    let entries = std::fs::read_dir(&shards).with_context(|| {
        format!("{}: cannot list the shard manifests (no shard was rendered here?)", shards.display())
    })?;
    let mut counts = BTreeMap::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parsed = name
            .strip_suffix(".json")
            .and_then(|stem| stem.split_once("-of-"))
            .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
        if let Some((_, n)) = parsed {
            counts.entry(n).or_insert(path);
        }
    }
    Ok(counts)
}

pub fn merge(dir: &Path) -> anyhow::Result<MergeSummary> {
    let files = shard_files(dir)?;
    let count = match files.len() {
        0 => bail!("{}: no shard manifests (<i>-of-<n>.json)", dir.join(SHARDS_DIR).display()),
        1 => *files.keys().next().expect("one entry"),
        _ => {
            let mut paths = files.values();
            let (a, b) = (paths.next().expect("two"), paths.next().expect("two"));
            bail!(
                "{} and {}: shards of jobs split in different numbers of parts; keep one job's",
                a.display(),
                b.display()
            )
        }
    };
    let shards = (0..count)
        .map(|index| {
            let shard = Shard { index, count };
            let path = super::shard_manifest::path(dir, shard);
            if !path.exists() {
                bail!(
                    "{}: missing: run `render --shard {index}/{count}` with the job's options",
                    path.display()
                );
            }
            let manifest = ShardManifest::read(&path)?;
            check_shard(&path, shard, &manifest)?;
            Ok((path, manifest))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    for (path, shard) in &shards {
        check_shard_files(dir, path, shard)?;
    }
    let (first_path, first) = &shards[0];
    for (path, other) in &shards[1..] {
        if let Some(d) = resume::first_difference(&first.run, &other.run)? {
            bail!(
                "{}: {} is {} here but {} in {}{}: these shards are not one job",
                path.display(),
                d.key,
                d.run,
                d.existing,
                first_path.display(),
                d.hint
            );
        }
        if other.run.config != first.run.config {
            bail!(
                "{}: config differs from {}'s: these shards are not one job",
                path.display(),
                first_path.display()
            );
        }
        let synsets =
            |m: &ShardManifest| m.contents.classes.iter().map(|c| c.synset.clone()).collect::<Vec<_>>();
        if synsets(other) != synsets(first) {
            bail!(
                "{}: classes differ from {}'s: these shards are not one job",
                path.display(),
                first_path.display()
            );
        }
    }

    let mut complete = Vec::new();
    let mut objects = Vec::new();
    let mut failures = Vec::new();
    for (_, shard) in &shards {
        for object in &shard.contents.complete {
            complete.push((ObjectKey::parse(&object.object)?, object.clone()));
        }
        for object in &shard.objects {
            objects.push(ObjectKey::parse(object)?);
        }
        failures.extend(shard.contents.failures.iter().cloned());
    }
    complete.sort_by(|a, b| a.0.cmp(&b.0));
    objects.sort();
    failures.sort_by(|a, b| a.object.cmp(&b.object));
    let hash = plan::objects_hash(objects.iter());
    if hash != first.run.objects_hash {
        bail!(
            "{}: the shards' objects hash to {hash} but the job's objects_hash is {}: a shard manifest was edited or is from another job",
            dir.join(SHARDS_DIR).display(),
            first.run.objects_hash
        );
    }
    let mut classes = first.contents.classes.clone();
    for class in &mut classes {
        class.objects = complete.iter().filter(|(k, _)| k.synset == class.synset).count();
    }
    let contents = Contents {
        complete: complete.into_iter().map(|(_, o)| o).collect(),
        incomplete: failures.iter().map(|f| f.object.clone()).collect(),
        classes,
        failures: failures.clone(),
        skipped: first.contents.skipped.clone(),
    };
    let run = dataset::records::DatasetManifest {
        adapter: shards.iter().find_map(|(_, s)| s.run.adapter.clone()),
        ..first.run.clone()
    };
    let counts = manifests::write_root(dir, &contents, run)?;
    Ok(MergeSummary { shards: count, counts, failures })
}

/// Every file a shard's manifest lists as complete is on disk and whole (cheaply, as a resume
/// checks): a manifest alone could list views whose files were lost or damaged since.
fn check_shard_files(dir: &Path, path: &Path, manifest: &ShardManifest) -> anyhow::Result<()> {
    let config = &manifest.run.config;
    let (mask, depth) = (config["mask"].as_bool().unwrap_or(false), !config["depth"].is_null());
    let problems: Vec<String> = manifest
        .contents
        .complete
        .par_iter()
        .flat_map_iter(|object| {
            let key = ObjectKey::parse(&object.object);
            object.records.iter().filter_map(move |r| match &key {
                Ok(key) => {
                    super::output::view_problem(dir, key, r.view, manifest.run.image_size, mask, depth, false)
                }
                Err(e) => Some(format!("object {:?}: {e}", object.object)),
            })
        })
        .collect();
    if let Some(first) = problems.first() {
        bail!(
            "{}: {} of the views it lists as rendered are missing or damaged (first: {first}); re-run `render --shard {}/{}` with the job's options",
            path.display(),
            problems.len(),
            manifest.index,
            manifest.count
        );
    }
    Ok(())
}

/// A shard's file must be the shard its name says, list only objects of that shard, and have
/// each of them rendered or failed under `--keep-going` (a recorded failure).
fn check_shard(path: &Path, shard: Shard, manifest: &ShardManifest) -> anyhow::Result<()> {
    if (manifest.index, manifest.count) != (shard.index, shard.count) {
        bail!(
            "{}: holds shard {}/{}, not {}/{}",
            path.display(),
            manifest.index,
            manifest.count,
            shard.index,
            shard.count
        );
    }
    for object in &manifest.objects {
        let key =
            ObjectKey::parse(object).with_context(|| format!("{}: object {object:?}", path.display()))?;
        if !shard.owns(&key) {
            bail!("{}: object {object} belongs to another shard", path.display());
        }
    }
    let contents = &manifest.contents;
    let failed: HashSet<&str> = contents.failures.iter().map(|f| f.object.as_str()).collect();
    let unrendered: Vec<&String> =
        contents.incomplete.iter().filter(|o| !failed.contains(o.as_str())).collect();
    if let Some(first) = unrendered.first() {
        bail!(
            "{}: {} of its {} objects are not rendered (first: {first}); re-run `render --shard {}/{}` with the job's options",
            path.display(),
            unrendered.len(),
            manifest.objects.len(),
            shard.index,
            shard.count
        );
    }
    let mut listed: Vec<&String> =
        contents.complete.iter().map(|o| &o.object).chain(&contents.incomplete).collect();
    listed.sort();
    let failures_listed = contents.failures.iter().all(|f| contents.incomplete.contains(&f.object));
    if listed != manifest.objects.iter().collect::<Vec<_>>() || !failures_listed {
        bail!("{}: its rendered and failed objects are not the objects it lists", path.display());
    }
    Ok(())
}

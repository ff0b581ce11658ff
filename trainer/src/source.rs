//! Where a run's pairs come from: a dataset's files (`--data`) or views rendered as it trains
//! (`--render`), with the number of classes each says the online classifier has.

use std::sync::Arc;

use anyhow::bail;
use dataset::pair::LatentKind;

use crate::config::TrainArgs;
use crate::data::{PairDataset, PairSource};

/// Classes of the online classifier when neither the flag nor the dataset's manifest says:
/// ShapeNetCore's 55.
pub const DEFAULT_NUM_CLASSES: usize = 55;

/// The training split, with at least the two objects a batch's statistics need, and the number
/// of classes (`--num-classes`, else the dataset's or render job's).
pub fn open(args: &TrainArgs) -> anyhow::Result<(Arc<dyn PairSource>, usize)> {
    let kind = LatentKind { colour: args.experience.colour_latent(), translation: args.translation_latent };
    let (ds, num_classes, what): (Arc<dyn PairSource>, usize, String) = if args.render.is_some() {
        let (ds, found) = open_live(args, kind)?;
        (ds, args.num_classes.unwrap_or(found), "--render: the train split".into())
    } else {
        let num_classes = args
            .num_classes
            .or_else(|| dataset::views::manifest_num_classes(&args.data_dir()))
            .unwrap_or(DEFAULT_NUM_CLASSES);
        let ds = PairDataset::open(
            &args.data_dir(),
            &args.images_file(),
            &args.labels_file(),
            num_classes,
            kind,
            args.resolution,
        )?;
        (Arc::new(ds), num_classes, args.images_file().display().to_string())
    };
    if ds.len() < 2 {
        // The loss's variance and covariance terms need at least two samples per batch.
        bail!("{what}: {} object(s); training needs at least two", ds.len());
    }
    Ok((ds, num_classes))
}

#[cfg(feature = "render")]
fn open_live(args: &TrainArgs, kind: LatentKind) -> anyhow::Result<(Arc<dyn PairSource>, usize)> {
    let live = crate::live::LiveSource::open(args, kind)?;
    let classes = live.num_classes();
    Ok((Arc::new(live), classes))
}

#[cfg(not(feature = "render"))]
fn open_live(args: &TrainArgs, _kind: LatentKind) -> anyhow::Result<(Arc<dyn PairSource>, usize)> {
    args.live.validate(true)?;
    bail!("--render: this train has no renderer")
}

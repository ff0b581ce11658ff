//! Parts and losses of the methods beyond the SIE family and VICReg (the reference's SimCLR
//! variants): one file per family, dispatched to from [`crate::model::SslModel::ssl_loss`].
//!
//! - [`augself`]: the AugSelf head of `SimCLRAugSelf[RotColor]`.
//! - [`simclr`]: the InfoNCE losses of `SimCLR`, `SimCLRAugSelf[RotColor]`,
//!   `SimCLROnlyEqui[RotColor]` and `SimCLREquiMod[RotColor]`.

pub mod augself;
pub mod simclr;

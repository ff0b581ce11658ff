//! The SimCLR family's losses (InfoNCE: [`loss::info_nce`], temperature `--simclr-temp`), with the
//! reference's weights (`src/models.py`):
//!
//! - `SimCLR`: InfoNCE(x, y) on the projector outputs.
//! - `SimCLRAugSelf[RotColor]`: InfoNCE(x, y) + ec_weight * MSE(AugSelf head([r1, r2]), latent).
//! - `SimCLROnlyEqui[RotColor]`: InfoNCE(prediction, view 2's equivariant embedding).
//! - `SimCLREquiMod`: InfoNCE(inv1, inv2) + equi_factor * InfoNCE(prediction, equi2);
//!   `SimCLREquiModRotColor`: the same terms, unweighted (`loss = loss_equi + loss_inv` in the
//!   reference, which ignores `--equi-factor` for this method).
//!
//! Where the reference gathers the batch across GPUs, one process is our single batch.

use candle_core::{bail, Result, Tensor};

use crate::config::Experience;
use crate::loss;
use crate::model::{LossConfig, LossInputs, StepStats};

fn scalar(t: &Tensor) -> Result<f32> {
    t.to_scalar::<f32>()
}

/// The loss of a SimCLR-family method; `st` gets its terms (`repr_loss_inv`: the InfoNCE of
/// the invariant part, `repr_loss_equi`: the equivariant or AugSelf term, unweighted).
pub fn loss(exp: Experience, lc: &LossConfig, inp: &LossInputs, st: &mut StepStats) -> Result<Tensor> {
    let nce = |a: &Tensor, b: &Tensor| loss::info_nce(a, b, lc.simclr_temp);
    let need = |t: Option<&Tensor>, what: &str| match t {
        Some(t) => Ok(t.clone()),
        None => bail!("{exp:?}'s loss needs {what}"),
    };
    match exp {
        Experience::SimCLR => {
            let l = nce(inp.x, inp.y)?;
            st.repr_loss_inv = Some(scalar(&l)?);
            Ok(l)
        }
        Experience::SimCLRAugSelf | Experience::SimCLRAugSelfRotColor => {
            let Some((pred, target)) = inp.augself else { bail!("{exp:?}'s loss needs the AugSelf head") };
            let inv = nce(inp.x, inp.y)?;
            let aug = loss::mse(pred, target)?;
            st.repr_loss_inv = Some(scalar(&inv)?);
            st.repr_loss_equi = Some(scalar(&aug)?);
            inv + (aug * lc.ec_weight)?
        }
        Experience::SimCLROnlyEqui | Experience::SimCLROnlyEquiRotColor => {
            let equi = nce(&need(inp.pred, "a prediction")?, &need(inp.e2, "an equivariant embedding")?)?;
            st.repr_loss_equi = Some(scalar(&equi)?);
            Ok(equi)
        }
        Experience::SimCLREquiMod | Experience::SimCLREquiModRotColor => {
            let inv = nce(&need(inp.i1, "invariant embeddings")?, &need(inp.i2, "invariant embeddings")?)?;
            let equi = nce(&need(inp.pred, "a prediction")?, &need(inp.e2, "an equivariant embedding")?)?;
            st.repr_loss_inv = Some(scalar(&inv)?);
            st.repr_loss_equi = Some(scalar(&equi)?);
            let weight = if exp == Experience::SimCLREquiMod { lc.equi_factor } else { 1.0 };
            inv + (equi * weight)?
        }
        other => bail!("{other:?} is not a SimCLR method"),
    }
}

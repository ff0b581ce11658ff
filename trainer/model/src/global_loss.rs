//! The loss on the global batch: every rank's embeddings gathered, with their gradient, before
//! the method's loss. The reference gathers what its variance, covariance and InfoNCE terms read
//! (`FullGatherLayer.apply(x)`, e.g. src/models.py:401-407 for SIE, 1365-1366 for SimCLR) and
//! takes its MSE terms per rank, relying on DDP's average. With equal parts both give the same
//! gradient (the mean of the per-rank means is the global mean); gathering every input makes the
//! loss exactly the one-process loss of the global batch, also when a last batch splits unevenly.

use candle_core::{Result, Tensor};
use comm::Group;

use crate::methods::LossInputs;

/// A step's loss inputs with the rows of every rank, in rank order.
pub struct GlobalLossInputs {
    i1: Option<Tensor>,
    i2: Option<Tensor>,
    e2: Option<Tensor>,
    x: Tensor,
    y: Tensor,
    pred: Option<Tensor>,
    pair: Option<(Tensor, Tensor)>,
}

impl GlobalLossInputs {
    pub fn gather(group: &Group, inp: &LossInputs) -> Result<Self> {
        let gather_rows = |t: &Tensor| group.gather_rows(t);
        let all = |t: Option<&Tensor>| t.map(gather_rows).transpose();
        Ok(Self {
            i1: all(inp.i1)?,
            i2: all(inp.i2)?,
            e2: all(inp.e2)?,
            x: gather_rows(inp.x)?,
            y: gather_rows(inp.y)?,
            pred: all(inp.pred)?,
            pair: inp
                .pair
                .map(|(a, b)| Ok::<_, candle_core::Error>((gather_rows(a)?, gather_rows(b)?)))
                .transpose()?,
        })
    }

    pub fn inputs(&self) -> LossInputs<'_> {
        LossInputs {
            i1: self.i1.as_ref(),
            i2: self.i2.as_ref(),
            e2: self.e2.as_ref(),
            x: &self.x,
            y: &self.y,
            pred: self.pred.as_ref(),
            pair: self.pair.as_ref().map(|(a, b)| (a, b)),
        }
    }
}

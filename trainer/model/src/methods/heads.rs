//! The projector layouts the methods share, with the reference's parameter names.

use candle_core::{Result, Tensor};

use super::HeadsConfig;
use crate::nn::{Pass, Projector};
use crate::params::Scope;

/// `projector`, one projector on the whole representation (VICReg, SimCLR and their variants).
pub fn whole(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Projector> {
    Projector::new(&s.pp("projector"), r, &c.mlp)
}

/// `projector_equi` on the whole representation (the only-equivariant methods, EquiMod).
pub fn whole_equi(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Projector> {
    Projector::new(&s.pp("projector_equi"), r, &c.mlp)
}

/// `projector_inv` on the whole representation (EquiMod).
pub fn whole_inv(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Projector> {
    Projector::new(&s.pp("projector_inv"), r, &c.mlp)
}

/// The SIE family's split heads: `projector_inv` on dims [0, inv), `projector_equi` on
/// [inv, repr), each sized by its part's share of the representation.
pub struct Split {
    pub inv: Projector,
    pub equi: Projector,
    inv_dims: usize,
    equi_dims: usize,
}

impl Split {
    pub fn new(s: &Scope, c: &HeadsConfig) -> Result<Self> {
        let (i, e) = (c.inv_repr(), c.equi);
        let inv = Projector::new(&s.pp("projector_inv"), i, &c.scaled_mlp(i))?;
        let equi = Projector::new(&s.pp("projector_equi"), e, &c.scaled_mlp(e))?;
        Ok(Self { inv, equi, inv_dims: i, equi_dims: e })
    }

    pub fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<(Tensor, Tensor)> {
        Ok((
            self.inv.forward(&repr.narrow(1, 0, self.inv_dims)?, pass)?,
            self.equi.forward(&repr.narrow(1, self.inv_dims, self.equi_dims)?, pass)?,
        ))
    }
}

//! The scalars a training step reports (losses, online metrics), kept on the model's device.
//!
//! Reading a scalar from a GPU waits for every kernel before it, so a step that read its dozen
//! statistics one by one would stall the GPU a dozen times. Here a step only records tensors;
//! [`StatSums`] adds steps up on the device, and the training loop reads them back every
//! `--log-interval` steps in one copy.

use std::collections::BTreeMap;

use candle_core::{DType, Result, Tensor, D};

/// The named scalars of one step, as 0-d or 1-element tensors on the model's device.
#[derive(Clone, Debug, Default)]
pub struct StepStats {
    entries: Vec<(&'static str, Tensor)>,
}

/// Statistics read back to the host: name (nested names joined by '.') -> value.
pub type StatValues = BTreeMap<String, f64>;

impl StepStats {
    /// Records `value` (a one-element tensor; detached, f32) under `name`, replacing an earlier one.
    pub fn set(&mut self, name: &'static str, value: &Tensor) -> Result<()> {
        let value = value.detach().to_dtype(DType::F32)?.reshape(1)?;
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
        Ok(())
    }

    /// One value on the host (a device-to-host copy): for tests and one-off reads.
    pub fn value(&self, name: &str) -> Result<f32> {
        match self.entries.iter().find(|(n, _)| *n == name) {
            Some((_, t)) => t.to_vec1::<f32>().map(|v| v[0]),
            None => candle_core::bail!("no statistic `{name}` in this step (has {:?})", self.names()),
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|(n, _)| *n).collect()
    }

    /// All values as one (k,) tensor on the device, in [`StepStats::names`] order.
    pub fn stacked(&self) -> Result<Tensor> {
        let values: Vec<&Tensor> = self.entries.iter().map(|(_, t)| t).collect();
        Tensor::cat(&values, 0)
    }

    /// The values on the host (one device-to-host copy; on a GPU, waits for the step).
    pub fn read(&self) -> Result<StatValues> {
        if self.entries.is_empty() {
            return Ok(StatValues::new());
        }
        let values = self.stacked()?.to_vec1::<f32>()?;
        Ok(self.names().into_iter().map(String::from).zip(values.into_iter().map(f64::from)).collect())
    }
}

/// Sums of the statistics of many steps, on the device. Steps with different sets of names (log
/// steps add the correlation statistics) are summed separately.
#[derive(Default)]
pub struct StatSums {
    groups: Vec<(Vec<&'static str>, Tensor, usize)>,
}

impl StatSums {
    pub fn add(&mut self, stats: &StepStats) -> Result<()> {
        let names = stats.names();
        if names.is_empty() {
            return Ok(());
        }
        let values = stats.stacked()?;
        match self.groups.iter_mut().find(|(n, _, _)| *n == names) {
            Some((_, sum, count)) => {
                *sum = (&*sum + values)?;
                *count += 1;
            }
            None => self.groups.push((names, values, 1)),
        }
        Ok(())
    }

    /// (sum, count) of each name on the host, and empties the sums.
    pub fn take(&mut self) -> Result<BTreeMap<String, (f64, usize)>> {
        let mut out: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for (names, sum, count) in self.groups.drain(..) {
            for (name, value) in names.into_iter().zip(sum.to_vec1::<f32>()?) {
                let e = out.entry(name.to_string()).or_default();
                e.0 += f64::from(value);
                e.1 += count;
            }
        }
        Ok(out)
    }
}

/// Fraction of rows of `logits` (N, C) whose largest value (the first on ties) is at the label
/// (N,) u32, as a 0-d f32 tensor on the device (the host definition is `eval::metrics::top1`).
pub fn top1(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let hits = logits.argmax(D::Minus1)?.eq(&labels.to_dtype(DType::U32)?)?;
    hits.to_dtype(DType::F32)?.mean_all()
}

/// R^2 as the reference computes it, on the device (the host definition is `eval::metrics::r2_reference`):
/// `1 - sum((t - p)^2) / sum((t - mean(t))^2)`, mean over all elements.
pub fn r2_reference(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    let (pred, target) = (pred.to_dtype(DType::F32)?, target.to_dtype(DType::F32)?);
    let residual = (&target - &pred)?.sqr()?.sum_all()?;
    let total = target.broadcast_sub(&target.mean_all()?)?.sqr()?.sum_all()?;
    (residual / total)?.affine(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn sums_group_steps_by_their_names_and_read_once() {
        let one = |v: f32| Tensor::new(v, &Device::Cpu).unwrap();
        let mut sums = StatSums::default();
        let mut plain = StepStats::default();
        plain.set("loss", &one(2.0)).unwrap();
        sums.add(&plain).unwrap();
        sums.add(&plain).unwrap();
        let mut logged = plain.clone();
        logged.set("loss", &one(5.0)).unwrap();
        logged.set("cor", &one(0.25)).unwrap();
        sums.add(&logged).unwrap();
        assert_eq!(logged.read().unwrap()["cor"], 0.25);
        let read = sums.take().unwrap();
        assert_eq!(read["loss"], (9.0, 3));
        assert_eq!(read["cor"], (0.25, 1));
        assert!(sums.take().unwrap().is_empty());
    }
}

//! The SIE, SIE-without-variance, VICReg and SimCLR losses against NumPy on one fixed batch
//! (`tests/fixtures/losses/losses.py` computes every term from SPEC section 4; its output,
//! `losses.json`, is checked in).

use candle_core::{Device, Tensor};
use trainer::config::Experience;
use trainer::model::{LossConfig, SslModel, StepStats};

fn fixture() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/losses/losses.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn tensor(v: &serde_json::Value) -> Tensor {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Tensor::from_vec(rows.into_iter().flatten().collect(), (n, d), &Device::Cpu).unwrap()
}

fn close(got: f32, want: &serde_json::Value, what: &str) {
    let want = want.as_f64().unwrap_or_else(|| panic!("{what} missing from the fixture"));
    assert!((got as f64 - want).abs() <= 1e-5 * want.abs().max(1.0), "{what}: {got} vs NumPy {want}");
}

#[test]
fn losses_match_numpy() {
    let f = fixture();
    let inv = f["batch"]["inv"].as_u64().unwrap() as usize;
    let (x, y, pred) = (tensor(&f["x"]), tensor(&f["y"]), tensor(&f["pred"]));
    let d = x.dim(1).unwrap();
    let (i1, i2) = (Some(x.narrow(1, 0, inv).unwrap()), Some(y.narrow(1, 0, inv).unwrap()));
    let e2 = Some(y.narrow(1, inv, d - inv).unwrap());
    let lc = LossConfig::default();
    for exp in [Experience::SIE, Experience::SIENoVar, Experience::VICReg, Experience::SimCLR] {
        let name = format!("{exp:?}");
        let mut st = StepStats::default();
        let total = SslModel::ssl_loss(exp, &lc, &i1, &i2, &e2, &x, &y, Some(&pred), &mut st).unwrap();
        close(total.to_scalar::<f32>().unwrap(), &f[&name]["total"], &format!("{name} total"));
        if exp == Experience::SIE {
            close(st.repr_loss_inv.unwrap(), &f["SIE"]["inv"], "SIE inv");
            close(st.repr_loss_equi.unwrap(), &f["SIE"]["equi"], "SIE equi");
            close(st.std_loss.unwrap(), &f["SIE"]["std_loss"], "SIE std_loss");
            close(st.pred_std_loss.unwrap(), &f["SIE"]["pred_std"], "SIE pred_std");
            close(st.cov_loss.unwrap(), &f["SIE"]["cov_loss"], "SIE cov_loss");
        }
        if exp == Experience::VICReg {
            close(st.repr_loss_inv.unwrap(), &f["VICReg"]["inv"], "VICReg inv");
            close(st.std_loss.unwrap(), &f["VICReg"]["std_loss"], "VICReg std_loss");
            close(st.cov_loss.unwrap(), &f["VICReg"]["cov_loss"], "VICReg cov_loss");
        }
    }
}

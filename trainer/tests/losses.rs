//! Every method's loss against NumPy on one fixed batch: SIE, SIE-without-variance, VICReg and
//! SimCLR from SPEC section 4, and the reference's SimCLRAugSelf, SimCLROnlyEqui, SimCLREquiMod
//! (and their RotColor variants) and VICRegPartInv from its `src/models.py`
//! (`tests/fixtures/losses/losses.py` computes every term; its output, `losses.json`, is checked in).

use candle_core::{Device, Tensor};
use model::model::{LossConfig, LossInputs, StepStats};
use trainer::config::Experience;

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

/// The method's own module, built as `train` builds it (its heads' sizes do not matter here: the
/// loss reads the fixture's outputs).
fn method(exp: Experience) -> Box<dyn model::methods::Method> {
    use clap::Parser;
    let name = format!("{exp:?}");
    let args = trainer::config::TrainArgs::parse_from([
        "train",
        "--data",
        "d",
        "--exp-dir",
        "e",
        "--arch",
        "resnet-tiny",
        "--mlp",
        "8-8",
        "--equi",
        "4",
        "--experience",
        &name,
    ]);
    let c = args.model_config(3).unwrap();
    let store = model::params::ParamStore::new(&Device::Cpu, 0);
    (c.experience.recipe().build)(&store.root(), &c.heads(), c.repr_dim).unwrap()
}

#[test]
fn losses_match_numpy() {
    let f = fixture();
    let inv = f["batch"]["inv"].as_u64().unwrap() as usize;
    let (x, y, pred) = (tensor(&f["x"]), tensor(&f["y"]), tensor(&f["pred"]));
    let (aug_pred, latent) = (tensor(&f["aug_pred"]), tensor(&f["latent"]));
    let d = x.dim(1).unwrap();
    // The invariant parts (VICRegPartInv: the embeddings' first dims) and view 2's equivariant part.
    let (i1, i2) = (x.narrow(1, 0, inv).unwrap(), y.narrow(1, 0, inv).unwrap());
    let e2 = y.narrow(1, inv, d - inv).unwrap();
    let lc = LossConfig::default();
    for exp in [
        Experience::named("SIE").unwrap(),
        Experience::named("SIENoVar").unwrap(),
        Experience::named("VICReg").unwrap(),
        Experience::named("SimCLR").unwrap(),
        Experience::named("SimCLRAugSelf").unwrap(),
        Experience::named("SimCLRAugSelfRotColor").unwrap(),
        Experience::named("SimCLROnlyEqui").unwrap(),
        Experience::named("SimCLROnlyEquiRotColor").unwrap(),
        Experience::named("SimCLREquiMod").unwrap(),
        Experience::named("SimCLREquiModRotColor").unwrap(),
        Experience::named("VICRegPartInv").unwrap(),
    ] {
        let name = format!("{exp:?}");
        // AugSelf regresses the whole latent: 6 values for RotColor, 4 otherwise.
        let k = exp.latent_dim();
        let (aug_pred, latent) = (aug_pred.narrow(1, 0, k).unwrap(), latent.narrow(1, 0, k).unwrap());
        let inputs = LossInputs {
            i1: Some(&i1),
            i2: Some(&i2),
            e2: Some(&e2),
            x: &x,
            y: &y,
            pred: Some(&pred),
            pair: Some((&aug_pred, &latent)),
        };
        let mut st = StepStats::default();
        let total = method(exp).loss(&inputs, &lc, &mut st).unwrap();
        let want = &f[&name];
        close(total.to_scalar::<f32>().unwrap(), &want["total"], &format!("{name} total"));
        // Every term the fixture has, the trainer logs (and the other way round for these).
        let read = st.read().unwrap();
        let logged = |name: &str| read.get(name).map(|&v| v as f32);
        let terms = [
            ("inv", logged("repr_loss_inv")),
            ("equi", logged("repr_loss_equi")),
            ("std_loss", logged("std_loss")),
            ("pred_std", logged("pred_std_loss")),
            ("cov_loss", logged("cov_loss")),
        ];
        for (term, got) in terms {
            match (got, want.get(term)) {
                (Some(got), Some(w)) => close(got, w, &format!("{name} {term}")),
                (None, None) => {}
                // SIENoVar's fixture holds only its total.
                (Some(_), None) if exp == Experience::named("SIENoVar").unwrap() => {}
                (got, w) => panic!("{name} {term}: trainer {got:?}, NumPy {w:?}"),
            }
        }
    }
}

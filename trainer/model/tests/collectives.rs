//! The collectives' gradients against one process's, with ranks simulated by threads (no MPI
//! needed): what the `mpirun` test (tests/data_parallel.rs) checks end to end, here per piece.

use std::sync::{Arc, Barrier, Mutex};

use candle_core::{Device, Tensor, Var};

use comm::collective::gather_rows;
use comm::sync_batch_norm;
use comm::Communicator;
use kernels::Kernels;
use model::loss;

/// Ranks as threads of one process: each rank posts its buffer, then all sum the posts in rank
/// order (deterministic, like one process summing the parts).
struct ThreadRank {
    rank: usize,
    posts: Arc<(Barrier, Mutex<Vec<Vec<f32>>>)>,
}

impl Communicator for ThreadRank {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.posts.1.lock().unwrap().len()
    }

    fn backend(&self) -> &'static str {
        "threads"
    }

    fn all_reduce_sum_host(&self, buf: &mut [f32]) -> candle_core::Result<()> {
        let (barrier, posts) = &*self.posts;
        posts.lock().unwrap()[self.rank] = buf.to_vec();
        barrier.wait();
        {
            let posts = posts.lock().unwrap();
            for (i, v) in buf.iter_mut().enumerate() {
                *v = posts.iter().map(|p| p[i]).sum();
            }
        }
        // Nobody posts the next buffer before everyone has read this one.
        barrier.wait();
        Ok(())
    }
}

/// Runs `f(rank's communicator, rank)` on `world` threads; the results in rank order.
fn on_ranks<T: Send>(world: usize, f: impl Fn(Arc<dyn Communicator>, usize) -> T + Sync) -> Vec<T> {
    let posts = Arc::new((Barrier::new(world), Mutex::new(vec![Vec::new(); world])));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..world)
            .map(|rank| {
                let comm: Arc<dyn Communicator> = Arc::new(ThreadRank { rank, posts: posts.clone() });
                let f = &f;
                s.spawn(move || f(comm, rank))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn random(shape: &[usize], seed: u64) -> Tensor {
    use rand::{Rng, SeedableRng};
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

/// Rows of rank `rank` among `world` for a batch of `n` (the data split's contiguous parts).
fn rows(n: usize, rank: usize, world: usize) -> (usize, usize) {
    let r = comm::Part { rank, ranks: world }.rows(0..n);
    (r.start, r.len())
}

#[test]
fn gathered_variance_and_covariance_give_each_rank_world_times_its_rows_gradient() {
    let (n, d, world) = (7, 5, 3);
    let x = random(&[n, d], 1);
    let global_loss = |v: &Tensor| (loss::std_term(v).unwrap() + loss::cov_term(v).unwrap()).unwrap();
    let whole = Var::from_tensor(&x).unwrap();
    let expected_loss = global_loss(whole.as_tensor()).to_scalar::<f32>().unwrap();
    let expected = global_loss(whole.as_tensor()).backward().unwrap().get(whole.as_tensor()).unwrap().clone();

    let results = on_ranks(world, |comm, rank| {
        let (start, len) = rows(n, rank, world);
        let part = Var::from_tensor(&x.narrow(0, start, len).unwrap()).unwrap();
        let gathered = gather_rows(&comm, part.as_tensor()).unwrap();
        assert_eq!(max_diff(&gathered, &x), 0.0, "the gather is the concatenation, bit for bit");
        let l = global_loss(&gathered);
        let grad = l.backward().unwrap().get(part.as_tensor()).unwrap().clone();
        (l.to_scalar::<f32>().unwrap(), grad)
    });
    for (rank, (l, grad)) in results.into_iter().enumerate() {
        assert!(
            (l - expected_loss).abs() < 1e-6 * expected_loss.abs(),
            "rank {rank}: {l} vs {expected_loss}"
        );
        // Every rank's copy of the loss sends its rows a gradient: world times the one-process
        // gradient, which the gradient average (1 / world) brings back.
        let (start, len) = rows(n, rank, world);
        let want = (expected.narrow(0, start, len).unwrap() * world as f64).unwrap();
        assert!(max_diff(&grad, &want) < 1e-5, "rank {rank}: {grad} vs {want}");
    }
}

/// One rank's batch norm output, statistics and gradients.
struct RankBatchNorm {
    y: Tensor,
    mean: Tensor,
    var: Tensor,
    dx: Tensor,
    dg: Tensor,
    db: Tensor,
}

#[test]
fn synchronised_batch_norm_equals_batch_norm_of_the_whole_batch() {
    let (n, c, hw, world) = (5, 3, 2, 2);
    let x = random(&[n, c, hw, hw], 2);
    let weights = random(&[n, c, hw, hw], 3); // loss = sum(weights * y): a generic dy
    let gamma = random(&[c], 4).affine(0.5, 1.0).unwrap();
    let beta = random(&[c], 5);
    for relu in [false, true] {
        let whole = Var::from_tensor(&x).unwrap();
        let (g, b) = (Var::from_tensor(&gamma).unwrap(), Var::from_tensor(&beta).unwrap());
        let (y, mean, var) = if relu {
            Kernels::default()
                .batch_norm_train(whole.as_tensor(), g.as_tensor(), b.as_tensor(), 1e-5, true)
                .unwrap()
        } else {
            Kernels::default()
                .batch_norm_train(whole.as_tensor(), g.as_tensor(), b.as_tensor(), 1e-5, false)
                .unwrap()
        };
        let grads = (y.clone() * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let get = |t: &Tensor| grads.get(t).unwrap().clone();
        let (dx, dg, db) = (get(whole.as_tensor()), get(g.as_tensor()), get(b.as_tensor()));

        let parts = on_ranks(world, |comm, rank| {
            let (start, len) = rows(n, rank, world);
            let part = Var::from_tensor(&x.narrow(0, start, len).unwrap()).unwrap();
            let (g, b) = (Var::from_tensor(&gamma).unwrap(), Var::from_tensor(&beta).unwrap());
            let (y, mean, var) = sync_batch_norm::batch_norm_train(
                &comm,
                part.as_tensor(),
                g.as_tensor(),
                b.as_tensor(),
                1e-5,
                relu,
            )
            .unwrap();
            // The global loss is the sum of the ranks' parts of it.
            let w = weights.narrow(0, start, len).unwrap();
            let grads = (y.clone() * w).unwrap().sum_all().unwrap().backward().unwrap();
            let get = |t: &Tensor| grads.get(t).unwrap().clone();
            RankBatchNorm {
                y,
                mean,
                var,
                dx: get(part.as_tensor()),
                dg: get(g.as_tensor()),
                db: get(b.as_tensor()),
            }
        });
        let cat = |f: fn(&RankBatchNorm) -> &Tensor| {
            Tensor::cat(&parts.iter().map(f).collect::<Vec<_>>(), 0).unwrap()
        };
        let sum = |f: fn(&RankBatchNorm) -> &Tensor| {
            parts.iter().map(|p| f(p).clone()).reduce(|a, b| (a + b).unwrap()).unwrap()
        };
        assert!(max_diff(&cat(|p| &p.y), &y) < 1e-5, "output, relu {relu}");
        for p in &parts {
            assert!(
                max_diff(&p.mean, &mean) < 1e-6 && max_diff(&p.var, &var) < 1e-5,
                "statistics, relu {relu}"
            );
        }
        assert!(max_diff(&cat(|p| &p.dx), &dx) < 1e-5, "dx, relu {relu}");
        // The parameters' gradients are per rank; their sum is the whole batch's (the gradient
        // average then divides by the world size, as every rank's loss counts once per rank).
        assert!(max_diff(&sum(|p| &p.dg), &dg) < 1e-5, "dgamma, relu {relu}");
        assert!(max_diff(&sum(|p| &p.db), &db) < 1e-5, "dbeta, relu {relu}");
    }
}

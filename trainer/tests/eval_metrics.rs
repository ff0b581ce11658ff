//! The evaluation metrics against values computed by hand.

use eval::metrics::{pre, r2_per_dim, r2_reference, rank_of, top1, RankMetrics};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn top1_counts_argmax_hits_and_ties_go_to_the_first_class() {
    // Rows: argmax 1 (label 1, hit), argmax 0 (label 0, hit), tie -> 0 (label 1, miss).
    let logits = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
    close(top1(&logits, 2, &[1, 0, 1]), 2.0 / 3.0);
}

#[test]
fn r2_uses_the_mean_over_all_target_elements() {
    // target mean 2.5, total SS 5, residual SS 1.
    let target = [1.0, 2.0, 3.0, 4.0];
    let pred = [1.0, 2.0, 3.0, 3.0];
    close(r2_reference(&pred, &target), 0.8);
    close(r2_reference(&target, &target), 1.0);
}

#[test]
fn per_dimension_r2_averages_column_r2s() {
    // Columns: [1, 3] predicted exactly (R^2 1); [2, 4] vs [2, 3]: residual 1, total 2 (R^2 0.5).
    let target = [1.0, 2.0, 3.0, 4.0];
    let pred = [1.0, 2.0, 3.0, 3.0];
    close(r2_per_dim(&pred, &target, 2), 0.75);
}

#[test]
fn the_two_r2_definitions_differ_when_column_means_differ() {
    // Predicting each column's mean scores 0 per dimension but well above 0 for the reference R^2.
    let target = [0.0, 10.0, 2.0, 12.0];
    let pred = [1.0, 11.0, 1.0, 11.0];
    close(r2_per_dim(&pred, &target, 2), 0.0);
    assert!(r2_reference(&pred, &target) > 0.9);
}

#[test]
fn pre_is_the_mean_of_one_minus_squared_cosine() {
    // cos^2 = 0.5 for the first row, 1 for the second (opposite vectors).
    let pred = [1.0, 0.0, 0.0, 2.0];
    let target = [1.0, 1.0, 0.0, -1.0];
    close(pre(&pred, &target, 2), 0.25);
}

#[test]
fn rank_orders_candidates_by_cosine_similarity() {
    let query = [1.0, 0.0];
    let candidates = [0.0, 1.0, 1.0, 0.1, 1.0, 0.0];
    assert_eq!(rank_of(&query, &candidates, 2, 2), 1);
    assert_eq!(rank_of(&query, &candidates, 2, 1), 2);
    assert_eq!(rank_of(&query, &candidates, 2, 0), 3);
}

#[test]
fn ties_rank_the_truth_last() {
    let candidates = [1.0, 0.0, 2.0, 0.0, 3.0, 0.0];
    assert_eq!(rank_of(&[1.0, 0.0], &candidates, 2, 0), 3);
}

#[test]
fn mrr_and_hits_from_ranks() {
    let m = RankMetrics::from_ranks(&[1, 2, 3, 20]);
    close(m.mrr, (1.0 + 0.5 + 1.0 / 3.0 + 0.05) / 4.0);
    assert_eq!(m.hit, [0.25, 0.5, 0.75, 0.75]);
    assert_eq!(m.queries, 4);
}

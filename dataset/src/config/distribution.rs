//! One factor's distribution: a fixed value, a uniform range, a uniform over a union of ranges, or
//! a finite set (a grid), drawn from a single uniform in [0, 1).
//!
//! Every draw maps one uniform `u` to a value, so a factor's value moves monotonically with its
//! range and a factor that is fixed consumes no randomness at all.

use anyhow::{bail, Context};

use crate::input::number as show;

#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Fixed(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    /// Uniform over the union of disjoint or touching ranges (weighted by length).
    Union(Vec<(f64, f64)>),
    /// One of the values, each with equal probability.
    Set(Vec<f64>),
}

impl Distribution {
    /// Whether drawing needs randomness (a fixed value does not).
    pub fn is_random(&self) -> bool {
        match self {
            Distribution::Fixed(_) => false,
            Distribution::Set(v) => v.len() > 1,
            _ => true,
        }
    }

    /// The value for the uniform `u` in [0, 1).
    pub fn draw(&self, u: f64) -> f64 {
        match self {
            Distribution::Fixed(v) => *v,
            Distribution::Uniform { min, max } => min + (max - min) * u,
            Distribution::Union(ranges) => {
                let total: f64 = ranges.iter().map(|(a, b)| b - a).sum();
                let mut x = u * total;
                for &(a, b) in ranges {
                    if x < b - a {
                        return a + x;
                    }
                    x -= b - a;
                }
                let (_, b) = ranges[ranges.len() - 1];
                b
            }
            Distribution::Set(values) => values[((u * values.len() as f64) as usize).min(values.len() - 1)],
        }
    }

    /// Smallest and largest value the distribution can give.
    pub fn bounds(&self) -> (f64, f64) {
        let fold = |it: &mut dyn Iterator<Item = f64>| {
            it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        match self {
            Distribution::Fixed(v) => (*v, *v),
            Distribution::Uniform { min, max } => (*min, *max),
            Distribution::Union(r) => fold(&mut r.iter().flat_map(|&(a, b)| [a, b])),
            Distribution::Set(v) => fold(&mut v.iter().copied()),
        }
    }

    /// The TOML/JSON form: `{ fixed = v }`, `{ uniform = [a, b] }`, `{ union = [[a, b], ...] }`,
    /// `{ set = [...] }`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Distribution::Fixed(v) => serde_json::json!({ "fixed": v }),
            Distribution::Uniform { min, max } => serde_json::json!({ "uniform": [min, max] }),
            Distribution::Union(r) => {
                serde_json::json!({ "union": r.iter().map(|(a, b)| [*a, *b]).collect::<Vec<_>>() })
            }
            Distribution::Set(v) => serde_json::json!({ "set": v }),
        }
    }

    /// Parses a TOML value: a number or `"pi/2"`-style string (fixed), or a one-key table.
    pub fn from_toml(value: &toml::Value) -> anyhow::Result<Self> {
        let d = match value {
            toml::Value::Table(t) => {
                let mut keys = t.keys();
                let (Some(kind), None) = (keys.next(), keys.next()) else {
                    bail!("expected one of {{ fixed = v }}, {{ uniform = [min, max] }}, {{ union = [[min, max], ...] }}, {{ set = [v, ...] }}");
                };
                let inner = &t[kind];
                match kind.as_str() {
                    "fixed" => Distribution::Fixed(number(inner)?),
                    "uniform" => {
                        let [min, max] = pair(inner).context("uniform")?;
                        let (a, b) = (show(min), show(max));
                        if min > max {
                            bail!("uniform: min {a} > max {b}");
                        }
                        // Each end finite is not enough: draws compute min + (max - min) * u.
                        if !(max - min).is_finite() {
                            bail!("uniform: the width max - min = {b} - {a} is not a finite number");
                        }
                        Distribution::Uniform { min, max }
                    }
                    "union" => {
                        let items =
                            inner.as_array().context("union: expected a list of [min, max] ranges")?;
                        if items.is_empty() {
                            bail!("union: no ranges");
                        }
                        let mut ranges =
                            items.iter().map(pair).collect::<anyhow::Result<Vec<_>>>().context("union")?;
                        ranges.sort_by(|a, b| a[0].total_cmp(&b[0]));
                        for r in &ranges {
                            if r[0] >= r[1] {
                                bail!("union: range [{}, {}] needs min < max", show(r[0]), show(r[1]));
                            }
                        }
                        for w in ranges.windows(2) {
                            if w[1][0] < w[0][1] {
                                bail!(
                                    "union: ranges [{}, {}] and [{}, {}] overlap",
                                    show(w[0][0]),
                                    show(w[0][1]),
                                    show(w[1][0]),
                                    show(w[1][1])
                                );
                            }
                        }
                        let total: f64 = ranges.iter().map(|[a, b]| b - a).sum();
                        if !total.is_finite() {
                            bail!("union: the ranges' total width {} is not a finite number", show(total));
                        }
                        Distribution::Union(ranges.into_iter().map(|[a, b]| (a, b)).collect())
                    }
                    "set" => {
                        let items = inner.as_array().context("set: expected a list of values")?;
                        if items.is_empty() {
                            bail!("set: no values");
                        }
                        Distribution::Set(
                            items.iter().map(number).collect::<anyhow::Result<_>>().context("set")?,
                        )
                    }
                    other => bail!("unknown distribution {other:?} (expected fixed, uniform, union or set)"),
                }
            }
            other => Distribution::Fixed(number(other)?),
        };
        Ok(d)
    }
}

fn pair(value: &toml::Value) -> anyhow::Result<[f64; 2]> {
    match value.as_array().map(|a| a.as_slice()) {
        Some([a, b]) => Ok([number(a)?, number(b)?]),
        _ => bail!("expected [min, max]"),
    }
}

/// A finite number: a TOML integer or float, or a string such as `"pi"`, `"-pi/2"`, `"3*pi/4"`,
/// `"0.25"`, so that presets can state angles exactly as the papers do.
pub fn number(value: &toml::Value) -> anyhow::Result<f64> {
    let v = match value {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        toml::Value::String(s) => parse_expression(s)?,
        other => bail!("expected a number, got {}", other.type_str()),
    };
    if !v.is_finite() {
        bail!("{} is not a finite number", show(v));
    }
    Ok(v)
}

fn parse_expression(text: &str) -> anyhow::Result<f64> {
    let shown = crate::input::readable(text, 64);
    let bad = || anyhow::anyhow!("\"{shown}\" is not a number (forms: 1.5, \"pi\", \"-pi/2\", \"3*pi/4\")");
    let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(&s)),
    };
    let (numerator, denominator) = match s.split_once('/') {
        Some((n, d)) => (n, Some(d.parse::<f64>().map_err(|_| bad())?)),
        None => (s, None),
    };
    let value = if numerator == "pi" {
        std::f64::consts::PI
    } else if let Some(k) = numerator.strip_suffix("*pi") {
        k.parse::<f64>().map_err(|_| bad())? * std::f64::consts::PI
    } else {
        numerator.parse::<f64>().map_err(|_| bad())?
    };
    match denominator {
        Some(0.0) => Err(bad()),
        Some(d) => Ok(sign * value / d),
        None => Ok(sign * value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn parse(text: &str) -> anyhow::Result<Distribution> {
        let t: toml::Table = toml::from_str(&format!("x = {text}")).unwrap();
        Distribution::from_toml(&t["x"])
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("0.6").unwrap(), Distribution::Fixed(0.6));
        assert_eq!(parse("2").unwrap(), Distribution::Fixed(2.0));
        assert_eq!(parse("\"-pi/2\"").unwrap(), Distribution::Fixed(-PI / 2.0));
        assert_eq!(parse("{ fixed = \"3*pi/4\" }").unwrap(), Distribution::Fixed(3.0 * PI / 4.0));
        assert_eq!(parse("{ uniform = [0, 1] }").unwrap(), Distribution::Uniform { min: 0.0, max: 1.0 });
        assert_eq!(
            parse("{ union = [[\"pi/2\", \"pi\"], [\"-pi\", \"-pi/2\"]] }").unwrap(),
            Distribution::Union(vec![(-PI, -PI / 2.0), (PI / 2.0, PI)])
        );
        assert_eq!(parse("{ set = [0, 0.5, 1] }").unwrap(), Distribution::Set(vec![0.0, 0.5, 1.0]));
    }

    #[test]
    fn rejects_impossible_values() {
        for (text, why) in [
            ("{ uniform = [1, 0] }", "min 1 > max 0"),
            ("{ uniform = [0] }", "expected [min, max]"),
            ("{ uniform = [0, nan] }", "not a finite"),
            ("{ uniform = [-1e308, 1e308] }", "max - min = 1e308 - -1e308 is not a finite"),
            ("{ union = [[-1e308, 0], [1, 1e308]] }", "total width inf is not a finite"),
            ("{ fixed = inf }", "not a finite"),
            ("\"pie\"", "not a number"),
            ("\"pi/0\"", "not a number"),
            ("{ union = [] }", "no ranges"),
            ("{ union = [[0, 1], [0.5, 2]] }", "overlap"),
            ("{ union = [[1, 1]] }", "min < max"),
            ("{ set = [] }", "no values"),
            ("{ gauss = [0, 1] }", "unknown distribution"),
            ("{ fixed = 1, uniform = [0, 1] }", "expected one of"),
            ("true", "expected a number"),
        ] {
            let e = format!("{:#}", parse(text).unwrap_err());
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn draws_cover_the_support_and_nothing_else() {
        let union = Distribution::Union(vec![(-PI, -PI / 2.0), (PI / 2.0, PI)]);
        let mut halves = [0, 0];
        for i in 0..1000 {
            let v = union.draw(i as f64 / 1000.0);
            assert!(v.abs() >= PI / 2.0 && v.abs() <= PI, "{v}");
            halves[(v > 0.0) as usize] += 1;
        }
        assert_eq!(halves, [500, 500]);
        let set = Distribution::Set(vec![1.0, 2.0, 3.0]);
        assert_eq!([0.0, 0.34, 0.99].map(|u| set.draw(u)), [1.0, 2.0, 3.0]);
        assert_eq!(Distribution::Uniform { min: 2.0, max: 4.0 }.draw(0.5), 3.0);
        assert_eq!(union.bounds(), (-PI, PI));
    }
}

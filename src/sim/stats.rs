//! The statistics experiment reports use: means with Student-t 95% confidence
//! intervals over seeds, nearest-rank quantiles, and the Gini coefficient of a load
//! distribution.

/// A mean with its 95% confidence interval, over `n` independent samples (seeds).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// The sample mean.
    pub mean: f64,
    /// Half-width of the 95% confidence interval (Student t with n - 1 degrees of
    /// freedom times the standard error); 0 for a single sample, where it is unknown.
    pub ci95: f64,
    /// Samples the mean is over.
    pub n: usize,
}

impl Interval {
    /// The lower and upper ends of the interval.
    pub fn bounds(&self) -> (f64, f64) {
        (self.mean - self.ci95, self.mean + self.ci95)
    }
}

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The t multiplier of a two-sided 95% interval with `df` degrees of freedom: the table
/// up to 30, then interpolated in 1/df towards the normal 1.960 (within 0.001 of the
/// exact quantile at 40, 60 and 120).
pub fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T_975[df - 1],
        _ => 1.960 + (T_975[29] - 1.960) * 30.0 / df as f64,
    }
}

/// Mean and 95% confidence interval of `samples` (one per seed): the sample standard
/// deviation (n - 1) over sqrt(n), times t(n - 1). Empty input gives NaN, one sample a
/// zero half-width.
pub fn mean_ci(samples: &[f64]) -> Interval {
    let n = samples.len();
    if n == 0 {
        return Interval {
            mean: f64::NAN,
            ci95: f64::NAN,
            n,
        };
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Interval { mean, ci95: 0.0, n };
    }
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Interval {
        mean,
        ci95: t_975(n - 1) * (var / n as f64).sqrt(),
        n,
    }
}

/// The nearest-rank `p` quantile (0 < p <= 1) of `sorted` (ascending); `None` if empty.
pub fn quantile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The Gini coefficient of non-negative `values`: 0 when every servent carries the
/// same load, towards 1 when one carries it all. 0 for an empty or all-zero input.
pub fn gini(values: &[u64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len() as f64;
    let total: f64 = v.iter().map(|&x| x as f64).sum();
    if v.is_empty() || total == 0.0 {
        return 0.0;
    }
    // G = sum_i (2i - n - 1) x_i / (n * sum x), i from 1, x ascending.
    let weighted: f64 = v
        .iter()
        .enumerate()
        .map(|(i, &x)| (2.0 * (i + 1) as f64 - n - 1.0) * x as f64)
        .sum();
    weighted / (n * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_matches_hand_computation() {
        // mean 5, sample sd sqrt(10/4*...): values 2,4,6,8 -> sd = 2.582, se = 1.291.
        let i = mean_ci(&[2.0, 4.0, 6.0, 8.0]);
        assert_eq!(i.mean, 5.0);
        assert!((i.ci95 - 3.182 * (20.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-9);
        assert_eq!(mean_ci(&[3.0]).ci95, 0.0);
        assert_eq!(mean_ci(&[1.0, 1.0, 1.0]).ci95, 0.0);
        assert!(mean_ci(&[]).mean.is_nan());
        // Large df tends to the normal quantile.
        assert!((t_975(60) - 2.000).abs() < 0.003);
        assert!((t_975(120) - 1.980).abs() < 0.003);
        assert!(t_975(10_000) > 1.960 && t_975(10_000) < 1.962);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile(&[7u32], 0.01), Some(7));
        assert_eq!(quantile::<u32>(&[], 0.5), None);
    }

    #[test]
    fn gini_of_equal_and_concentrated_loads() {
        assert_eq!(gini(&[5, 5, 5, 5]), 0.0);
        assert_eq!(gini(&[]), 0.0);
        assert_eq!(gini(&[0, 0]), 0.0);
        // One of four carries everything: (n - 1) / n.
        assert!((gini(&[0, 0, 0, 8]) - 0.75).abs() < 1e-12);
        assert!((gini(&[1, 2, 3, 4]) - 0.25).abs() < 1e-12);
    }
}

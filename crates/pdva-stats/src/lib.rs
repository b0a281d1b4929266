//! Outcome statistics for the pDVA registry.
//!
//! A pure crate: no I/O, no registry or domain types, no database, no HTTP.
//! The outcomes engine and the dashboards call it to compute every statistic
//! live, so each method below is defined exactly, follows one named reference
//! implementation to the last decimal, and is tested against that oracle on
//! hundreds of generated data sets (`tests/oracles.rs`, Python scripts in
//! `tests/oracles/`; point estimates agree to 1e-9, intervals to 1e-6).
//! Times are days (f64, ≥ 0); every result type is `serde::Serialize` with
//! snake_case fields and `null` for an undefined interval. Invalid input is a
//! [`StatsError`], never a panic.
//!
//! | method | definition | oracle |
//! |---|---|---|
//! | [`KaplanMeier`] | S(t) = ∏(1 − dᵢ/nᵢ) over event times ≤ t, events before censorings at tied times; Greenwood variance V = Σ dᵢ/(nᵢ(nᵢ − dᵢ)); 95% CI `S^exp(±z√V / ln S)` with z = [`Z_95`] = 1.959963984540054, none where S = 0 or 1; median = first t with S(t) ≤ ½; number at risk at t = subjects with time > t | `lifelines.KaplanMeierFitter` |
//! | [`CumulativeIncidence`] | Aalen–Johansen CIFₖ(t) = Σ S(tᵢ₋) dₖᵢ/nᵢ; Aalen's variance (Pintilie 2006, eq. 4.5); 95% log(−log) CI | `sksurv.nonparametric.cumulative_incidence_competing_risks(conf_type="log-log", var_type="Aalen")` |
//! | [`logrank_test`] | Z' V⁺ Z over k − 1 groups, hypergeometric covariance, χ²(k − 1) | `lifelines.statistics.logrank_test`, `multivariate_logrank_test` |
//! | [`wilson_interval`] | Wilson score 95% interval for k/n | `statsmodels.stats.proportion.proportion_confint(method="wilson")` |
//! | [`poisson_rate_interval`], [`rate_per_100_patient_years`] | exact (Garwood) `[χ²(0.025; 2k)/2, χ²(0.975; 2k+2)/2] / T`, 365.25 days a year | `scipy.stats.chi2.ppf` |
//! | [`funnel_limits`], [`binomial_limit`], [`classify`], [`funnel_limits_and_class`] | Spiegelhalter's interpolated exact binomial limits, 95% (alert) and 99.8% (alarm) | `scipy.stats.binom.cdf` / `ppf` |
//! | [`learning_curve_cusum`] | Steiner's risk-adjusted CUSUM, R_A = 2, h = 4.5 by default, restart after a signal | the formula, computed independently in Python |
//! | [`quantile()`], [`median`], [`median_iqr`] | type 7 (numpy's default "linear") | `numpy.quantile` / `numpy.percentile` |
//! | [`chi_squared_quantile`], [`chi_squared_sf`] | regularised incomplete gamma and its inverse | `scipy.stats.chi2` |
//!
//! Complexity: the survival methods sort once (O(n log n)) and then make one
//! linear pass, so a 1,000,000-observation Kaplan–Meier takes a fraction of a
//! second; an estimate at a time is a binary search. The log-rank test adds
//! O(k²) per event time for k groups; funnel limits are O(√n) per unit (the
//! binomial terms that do not underflow). For
//! data whose times are few and known in order (whole days), each survival
//! method also takes counts per time — [`KaplanMeier::from_counts`],
//! [`CumulativeIncidence::from_counts`], [`LogRankCounts`] — and then needs
//! no sort at all; `fit` is a sort and a count followed by `from_counts`, so
//! the two routes give the same result to the bit.

pub mod competing_risks;
pub mod cusum;
pub mod distributions;
mod error;
pub mod funnel;
pub mod kaplan_meier;
pub mod logrank;
pub mod proportion;
pub mod quantile;
pub mod rate;

pub use competing_risks::{
    CifEstimate, CifRow, CompetingCounts, CompetingObservation, CumulativeIncidence,
};
pub use cusum::{Cusum, CusumCase, CusumParams, CusumPoint, learning_curve_cusum};
pub use distributions::{Z_95, chi_squared_quantile, chi_squared_sf};
pub use error::{Result, StatsError};
pub use funnel::{
    BadDirection, FunnelClass, FunnelLimits, binomial_limit, classify, funnel_limits,
    funnel_limits_and_class,
};
pub use kaplan_meier::{KaplanMeier, KmEstimate, KmRow, KmSummary, Observation, TimeCounts};
pub use logrank::{LogRankCounts, LogRankTest, logrank_test};
pub use proportion::{Proportion, wilson_interval};
pub use quantile::{
    IntegerSample, MedianIqr, iqr, median, median_iqr, median_iqr_mut, quantile, quantiles,
};
pub use rate::{
    DAYS_PER_YEAR, PoissonRate, RatePer100PatientYears, poisson_rate_interval,
    rate_per_100_patient_years,
};

"""Chi-squared and exact Poisson oracle: scipy.stats.chi2.

Input: {"poisson": [[k, T], ...], "ppf": [[p, df], ...], "sf": [[x, df], ...]}.
Garwood interval: [chi2.ppf(0.025, 2k)/2, chi2.ppf(0.975, 2k+2)/2] / T,
lower 0 when k = 0.
"""

from oracle_io import require, run

chi2 = require(lambda: __import__("scipy.stats").stats.chi2)


def garwood(k, t):
    lower = 0.0 if k == 0 else chi2.ppf(0.025, 2 * k) / 2.0
    upper = chi2.ppf(0.975, 2 * k + 2) / 2.0
    return [k / t, lower / t, upper / t]


def compute(data):
    return {
        "poisson": [garwood(k, t) for k, t in data["poisson"]],
        "ppf": [float(chi2.ppf(p, df)) for p, df in data["ppf"]],
        "sf": [float(chi2.sf(x, df)) for x, df in data["sf"]],
    }


run(compute)

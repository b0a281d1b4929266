"""Wilson oracle: statsmodels proportion_confint(k, n, method="wilson").

Input: {"k": [...], "n": [...]}; returns [[lower, upper], ...].
"""

from oracle_io import require, run

np, proportion = require(
    lambda: (__import__("numpy"), __import__("statsmodels.stats.proportion").stats.proportion)
)


def compute(data):
    k = np.asarray(data["k"], dtype=float)
    n = np.asarray(data["n"], dtype=float)
    lo, hi = proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
    return [[float(a), float(b)] for a, b in zip(lo, hi)]


run(compute)

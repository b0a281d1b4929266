"""Quantile oracle: numpy.quantile (default method "linear", Hyndman-Fan
type 7), numpy.median and numpy.percentile for the quartiles.

Input: {"samples": [{"x": [...], "q": [...]}]}; empty samples give null.
"""

from oracle_io import require, run

np = require(lambda: __import__("numpy"))


def one(s):
    x = np.asarray(s["x"], dtype=float)
    if x.size == 0:
        return None
    q1, q3 = np.percentile(x, [25, 75])
    return {
        "q": [float(v) for v in np.quantile(x, s["q"])],
        "median": float(np.median(x)),
        "q1": float(q1),
        "q3": float(q3),
    }


run(lambda data: [one(s) for s in data["samples"]])

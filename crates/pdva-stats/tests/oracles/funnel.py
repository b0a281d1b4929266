"""Funnel-limit oracle: scipy.stats.binom (DOMAIN.md section 6.4).

Input: {"units": [{"theta": t, "n": n, "k": [...]}]}.
For p in (0.001, 0.025, 0.975, 0.999): r_p = the smallest r with
binom.cdf(r) >= p (found from the whole cdf, and checked against
binom.ppf), alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)),
limit = max(0, (r_p - alpha) / n). Each k is classified by comparing k/n with
the limits on both bad sides: beyond (strictly) the 99.8% limit = alarm,
beyond the 95% limit = alert, else within.
"""

from oracle_io import require, run

np, binom = require(lambda: (__import__("numpy"), __import__("scipy.stats").stats.binom))

PS = (0.001, 0.025, 0.975, 0.999)


def limit(cdf, n, p, ppf_mismatch):
    r = int(np.argmax(cdf >= p))
    assert cdf[r] >= p and (r == 0 or cdf[r - 1] < p)
    if binom.ppf(p, n, cdf.theta) != r:
        ppf_mismatch.append(1)
    f_r = cdf[r]
    f_prev = cdf[r - 1] if r > 0 else 0.0
    alpha = (f_r - p) / (f_r - f_prev) if f_r > f_prev else 0.0
    return max(0.0, (r - alpha) / n)


class Cdf(np.ndarray):
    pass


def one(unit, ppf_mismatch):
    theta, n = unit["theta"], unit["n"]
    cdf = binom.cdf(np.arange(n + 1), n, theta).view(Cdf)
    cdf.theta = theta
    lo998, lo95, up95, up998 = (limit(cdf, n, p, ppf_mismatch) for p in PS)
    classes = []
    for k in unit["k"]:
        y = k / n
        low = "alarm" if y < lo998 else "alert" if y < lo95 else "within"
        high = "alarm" if y > up998 else "alert" if y > up95 else "within"
        classes.append([low, high])
    return {"limits": [lo998, lo95, up95, up998], "classes": classes}


def compute(data):
    mismatch = []
    units = [one(u, mismatch) for u in data["units"]]
    return {"units": units, "ppf_mismatches": len(mismatch)}


run(compute)

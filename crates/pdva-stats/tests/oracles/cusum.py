"""Learning-curve CUSUM oracle: Steiner et al. (2000) written out directly
from DOMAIN.md section 6.5 (no library implements it).

Input: {"charts": [{"odds_ratio": R, "threshold": h, "failed": [...], "p": [...]}]}.
W_t = log(R / (1 - p + R p)) if failed else log(1 / (1 - p + R p));
X_t = max(0, X_{t-1} + W_t); signal when X_t >= h, then X restarts at 0.
"""

import math

from oracle_io import run


def chart(c):
    r, h = c["odds_ratio"], c["threshold"]
    x = 0.0
    out = []
    for y, p in zip(c["failed"], c["p"]):
        denom = 1.0 - p + r * p
        w = math.log(r / denom) if y else math.log(1.0 / denom)
        x = max(0.0, x + w)
        signal = x >= h
        out.append([w, x, signal])
        if signal:
            x = 0.0
    return out


run(lambda data: [chart(c) for c in data["charts"]])

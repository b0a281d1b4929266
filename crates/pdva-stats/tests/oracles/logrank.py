"""Log-rank oracle: lifelines.statistics.logrank_test for two groups and
multivariate_logrank_test for more.

Input: {"datasets": [{"groups": [{"time": [...], "event": [...]}, ...]}]}.
Empty groups are left out (lifelines only sees groups that have subjects);
the others are labelled 0, 1, ... in order, so lifelines drops the last one,
as the Rust code does.
"""

from oracle_io import require, run

np, statistics = require(lambda: (__import__("numpy"), __import__("lifelines.statistics").statistics))


def one(ds):
    groups = [g for g in ds["groups"] if len(g["time"]) > 0]
    if len(groups) == 2:
        a, b = groups
        res = statistics.logrank_test(
            np.asarray(a["time"], dtype=float),
            np.asarray(b["time"], dtype=float),
            event_observed_A=np.asarray(a["event"], dtype=bool),
            event_observed_B=np.asarray(b["event"], dtype=bool),
        )
    else:
        time = np.concatenate([np.asarray(g["time"], dtype=float) for g in groups])
        event = np.concatenate([np.asarray(g["event"], dtype=bool) for g in groups])
        label = np.concatenate([np.full(len(g["time"]), i) for i, g in enumerate(groups)])
        res = statistics.multivariate_logrank_test(time, label, event)
    return [float(res.test_statistic), int(res.degrees_of_freedom), float(res.p_value)]


run(lambda data: [one(ds) for ds in data["datasets"]])

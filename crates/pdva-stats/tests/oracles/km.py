"""Kaplan-Meier oracle: lifelines.KaplanMeierFitter with its defaults.

Input: {"datasets": [{"time": [...], "event": [...], "at": [...]}]}.
For each data set, returns the lifelines curve at every time in its event
table where somebody leaves (rows), the median, an exact rational median
(fractions, to judge floating-point ties at S = 1/2), and the estimates at the
"at" times with lifelines' risk-table counts (plotting.add_at_risk_counts,
default at_risk_count_from_start_of_period=False: at_risk - removed, taken at
the last event-table time <= t).
"""

from fractions import Fraction

from oracle_io import require, run

np, KaplanMeierFitter = require(
    lambda: (__import__("numpy"), __import__("lifelines").KaplanMeierFitter)
)


def exact_median(time, event):
    """First time at which the exact rational product S(t) <= 1/2."""
    deaths, removed = {}, {}
    for t, e in zip(time, event):
        removed[t] = removed.get(t, 0) + 1
        deaths[t] = deaths.get(t, 0) + (1 if e else 0)
    n = len(time)
    s = Fraction(1)
    for t in sorted(removed):
        d = deaths[t]
        if d:
            s *= Fraction(n - d, n)
            if s <= Fraction(1, 2):
                return t
        n -= removed[t]
    return None


def one(ds):
    time = np.asarray(ds["time"], dtype=float)
    event = np.asarray(ds["event"], dtype=bool)
    kmf = KaplanMeierFitter().fit(time, event)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    et = kmf.event_table
    # lifelines' timeline is its event table's index; keep the times where
    # somebody leaves (it also has a row at 0 where nothing may happen).
    s_values = sf.loc[et.index].to_numpy()
    ci_values = ci.loc[et.index].to_numpy()
    rows = [
        [
            float(t),
            int(r[0]),
            int(r[1]),
            int(r[2]),
            float(s_values[j]),
            float(ci_values[j, 0]),
            float(ci_values[j, 1]),
        ]
        for j, (t, r) in enumerate(zip(et.index, et[["at_risk", "observed", "censored", "removed"]].to_numpy()))
        if r[3] > 0
    ]
    # Values in force at each "at" time: the last event-table time <= t.
    index = et.index.to_numpy(dtype=float)
    pos = np.searchsorted(index, np.asarray(ds["at"], dtype=float), side="right") - 1
    assert (pos >= 0).all()
    survival_at = kmf.survival_function_at_times(ds["at"]).to_numpy()
    # lifelines' risk table: at_risk - removed at that time; sums up to it.
    at_risk_after = (et["at_risk"] - et["removed"]).to_numpy()
    cum_observed = et["observed"].cumsum().to_numpy()
    cum_censored = et["censored"].cumsum().to_numpy()
    at = [
        [
            float(survival_at[i]),
            float(ci_values[j, 0]),
            float(ci_values[j, 1]),
            int(at_risk_after[j]),
            int(cum_observed[j]),
            int(cum_censored[j]),
        ]
        for i, j in enumerate(pos)
    ]
    median = float(kmf.median_survival_time_)
    return {
        "rows": rows,
        "median": median,
        "exact_median": exact_median(list(ds["time"]), list(ds["event"])),
        "at": at,
    }


run(lambda data: [one(ds) for ds in data["datasets"]])

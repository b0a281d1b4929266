"""Kaplan-Meier oracle: lifelines.KaplanMeierFitter with its defaults.

Input: {"datasets": [{"time": [...], "event": [...], "at": [...]}]}.
For each data set, returns the lifelines curve at every time in its event
table where somebody leaves (rows), the median, an exact rational median
(fractions, to judge floating-point ties at S = 1/2), and the estimates at the
"at" times with the number at risk and the events and censorings up to and
including t (sums of lifelines' event table to the last time <= t).

The number at risk at t is DOMAIN.md section 7's: subjects whose time is >= t
(still followed and event-free at the start of t, as R's survival and Stata
report it), counted here directly with numpy and, where t is a time of
lifelines' event table, checked against its "at_risk" column.
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
    # Number at risk at the start of t: time >= t.
    at_risk_from = [int(np.sum(time >= t)) for t in ds["at"]]
    for t, n in zip(ds["at"], at_risk_from):
        if t in et.index and et.loc[t, "removed"] > 0:
            assert int(et.loc[t, "at_risk"]) == n, (t, n)
    cum_observed = et["observed"].cumsum().to_numpy()
    cum_censored = et["censored"].cumsum().to_numpy()
    at = [
        [
            float(survival_at[i]),
            float(ci_values[j, 0]),
            float(ci_values[j, 1]),
            at_risk_from[i],
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

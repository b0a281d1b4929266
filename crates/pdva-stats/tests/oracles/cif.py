"""Aalen-Johansen oracle: scikit-survival's
cumulative_incidence_competing_risks(event, time, conf_type="log-log",
var_type="Aalen").

Input: {"datasets": [{"time": [...], "status": [...], "causes": [...], "at": [...]}]}.
For each data set and each requested cause, returns sksurv's times, counts
(its own _compute_counts), cumulative incidence and interval, and the values
in force at the "at" times, with the number at risk at each (DOMAIN.md
section 7: subjects whose time is >= t, counted with numpy) and the events of
the cause, of other causes and the censorings at times <= t.

The public function needs causes numbered 1..M, all present, with M >= 2.
Causes that occur are renumbered by rank (a cause's incidence depends only on
its own events and the all-cause counts, so this changes nothing). When fewer
than two causes occur, or for a cause that never occurs, the same sksurv
helpers (_compute_counts, _var_aalen, _cum_inc_cr_ci_estimator) are called
exactly as the public function calls them, with the columns [all causes,
this cause]; where both routes are possible they are checked to agree.
"""

from oracle_io import require, run

np, nonparametric = require(
    lambda: (__import__("numpy"), __import__("sksurv.nonparametric").nonparametric)
)


def helper_route(time, status, cause):
    """The body of cumulative_incidence_competing_risks for one cause."""
    any_event = (status > 0).astype(int)
    uniq_times, n_events, n_at_risk, n_censored = nonparametric._compute_counts(any_event, time)
    n_events_cr = np.column_stack([n_events, np.zeros_like(n_events)])
    # n_events counts all causes; recount the chosen cause at each time.
    for j, t in enumerate(uniq_times):
        n_events_cr[j, 1] = np.sum((time == t) & (status == cause))
    n_t = uniq_times.shape[0]
    ratio = np.divide(
        n_events_cr,
        n_at_risk[..., np.newaxis],
        out=np.zeros((n_t, 2), dtype=float),
        where=n_events_cr != 0,
    )
    kpe = np.cumprod(1.0 - ratio[:, 0])
    kpe_prime = np.r_[1.0, kpe[:-1]]
    cum_inc = np.empty((2, n_t), dtype=float)
    cum_inc[0] = 1.0 - kpe
    cum_inc[1:] = np.cumsum((ratio[:, 1:].T * kpe_prime), axis=1)
    var = nonparametric._var_aalen(n_events_cr, kpe_prime, n_at_risk, cum_inc)
    ci = nonparametric._cum_inc_cr_ci_estimator(cum_inc[1:], var, 0.95, "log-log")
    return uniq_times, cum_inc[1], ci[0, 0], ci[0, 1]


def one(ds):
    time = np.asarray(ds["time"], dtype=float)
    status = np.asarray(ds["status"], dtype=int)
    present = sorted(set(int(s) for s in status if s > 0))
    public = None
    if len(present) >= 2:
        rank = {c: i + 1 for i, c in enumerate(present)}
        renumbered = np.array([rank.get(int(s), 0) for s in status], dtype=int)
        times, cum_inc, ci = nonparametric.cumulative_incidence_competing_risks(
            renumbered, time, conf_type="log-log", var_type="Aalen"
        )
        public = (times, cum_inc, ci, rank)

    any_event = (status > 0).astype(int)
    uniq_times, n_events, n_at_risk, n_censored = nonparametric._compute_counts(any_event, time)
    out = []
    for cause in ds["causes"]:
        h_times, h_cif, h_lo, h_hi = helper_route(time, status, cause)
        route = "helpers"
        if public is not None and cause in public[3]:
            times, cum_inc, ci, rank = public
            r = rank[cause]
            cif, lo, hi = cum_inc[r], ci[r, 0], ci[r, 1]
            assert np.array_equal(times, h_times)
            assert np.allclose(cif, h_cif, rtol=0, atol=1e-12)
            assert np.allclose(lo, h_lo, rtol=0, atol=1e-12)
            assert np.allclose(hi, h_hi, rtol=0, atol=1e-12)
            route = "public"
        else:
            times, cif, lo, hi = h_times, h_cif, h_lo, h_hi
        rows = []
        for j, t in enumerate(times):
            d_k = int(np.sum((time == t) & (status == cause)))
            rows.append(
                [
                    float(t),
                    int(n_at_risk[j]),
                    d_k,
                    int(n_events[j]) - d_k,
                    int(n_censored[j]),
                    float(cif[j]),
                    float(lo[j]),
                    float(hi[j]),
                ]
            )
        at = []
        for t in ds["at"]:
            j = int(np.searchsorted(times, t, side="right")) - 1
            values = [0.0, 0.0, 0.0] if j < 0 else [float(cif[j]), float(lo[j]), float(hi[j])]
            up_to = time <= t
            counts = [
                int(np.sum(time >= t)),
                int(np.sum(up_to & (status == cause))),
                int(np.sum(up_to & (status > 0) & (status != cause))),
                int(np.sum(up_to & (status == 0))),
            ]
            at.append(values + counts)
        out.append({"cause": cause, "route": route, "rows": rows, "at": at})
    return out


run(lambda data: [one(ds) for ds in data["datasets"]])

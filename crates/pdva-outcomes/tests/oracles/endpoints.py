"""Independent derivation of the per-limb time-to-event data from exported
patient records (DOMAIN.md section 7, as crates/pdva-outcomes/src/derive.rs
documents its choices), then lifelines KaplanMeierFitter, lifelines
logrank_test and scikit-survival cumulative_incidence_competing_risks.

Input (stdin): {"scenarios": [{"as_of": "YYYY-MM-DD", "site": str|null,
"from": str|null, "to": str|null}], "patients": [{"patient": {...},
"records": [[id, {"kind": ..., "record": {...}}], ...]}]}.

Input also holds "estimate_days": the days at which the report reads each
curve.

Output: one entry per scenario with, per endpoint, the lifelines/sksurv rows,
the estimates at each estimate day with the number at risk (DOMAIN.md
section 7: limbs still followed and event-free at the start of day t, i.e.
time >= t, counted here with numpy), the log-rank test by dialysis
dependence, and the 30-day proportions with their status-unknown counts
(DOMAIN.md section 7, derived here from the records).
"""

import json
import sys
import warnings
from datetime import date

try:
    import numpy as np
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test
    from sksurv.nonparametric import cumulative_incidence_competing_risks
except ImportError as e:  # pragma: no cover
    print(f"missing oracle package: {e}", file=sys.stderr)
    sys.exit(3)

MAJOR_LEVELS = {"syme", "below_knee", "through_knee", "above_knee", "hip_disarticulation"}
MAJOR_REINTERVENTIONS = {"bypass", "thrombectomy_or_thrombolysis", "open_surgical_revision"}
PRIMARY = {
    "consent": "consent_date",
    "baseline": "assessment_date",
    "procedure": "procedure_date",
    "antithrombotic_therapy": "start_date",
    "follow_up_visit": "visit_date",
    "amputation": "date",
    "reintervention": "date",
    "death": "date",
    "adverse_event": "onset_date",
    "quality_of_life": "assessment_date",
}
# DOMAIN.md section 7, last known date: "index procedure and discharge,
# baseline assessment, consent (and a research-consent withdrawal), visits,
# amputations, reinterventions, adverse-event onset and resolution,
# antithrombotic start and stop, QoL assessments". The primary dates above
# are all of these; the other dates it lists are these. (A baseline's MDT
# decision date is not listed, so it does not count.)
SECONDARY = {
    "consent": ["research_consent_withdrawn_on"],
    "procedure": ["discharge_date"],
    "antithrombotic_therapy": ["stop_date"],
    "adverse_event": ["resolved_on"],
}
ADVERSE_EVENT_KINDS = [
    "pain",
    "bleeding",
    "infection",
    "worsening_perfusion",
    "steal_syndrome",
    "access_site_complication",
    "acute_kidney_injury",
    "limb_oedema",
    "other",
]


def d(s):
    return date.fromisoformat(s)


def limbs_of(p, as_of):
    """Per-limb dicts of event days, for one patient."""
    ended = p["patient"].get("follow_up_ended_on")
    ended = d(ended) if ended and d(ended) <= as_of else None
    cut = min(as_of, ended) if ended else as_of
    recs = []
    for _id, r in p["records"]:
        kind, body = r["kind"], r["record"]
        primary = d(body[PRIMARY[kind]])
        if primary <= cut:
            recs.append((kind, body, primary))
    death = next((prim for k, b, prim in recs if k == "death"), None)
    if death is not None:
        last = death
    else:
        dates = []
        for k, b, prim in recs:
            dates.append(prim)
            for f in SECONDARY.get(k, []):
                if b.get(f) and d(b[f]) <= cut:
                    dates.append(d(b[f]))
        last = max(dates) if dates else cut
    out = []
    for pid, r in p["records"]:
        if r["kind"] != "procedure":
            continue
        proc = d(r["record"]["procedure_date"])
        if proc > cut:
            continue
        mine = [(k, b, prim) for k, b, prim in recs if b.get("procedure_id") == pid]
        day = lambda x: (x - proc).days
        amp = min((day(prim) for k, b, prim in mine if k == "amputation" and b["level"] in MAJOR_LEVELS), default=None)
        last_day = max(day(last), 0)
        limit = min(amp if amp is not None else 10**9, last_day)
        reint = [(day(prim), b) for k, b, prim in mine if k == "reintervention" and day(prim) <= limit]
        baseline = next((b for k, b, prim in mine if k == "baseline"), None)
        has_wound = None
        if baseline is not None:
            wc = baseline.get("wound_count")
            has_wound = (wc > 0) if wc is not None else (baseline["wifi_wound"] > 0)
        death_day = day(death) if death is not None else None
        # Same-day order: a healing on the day of a major amputation or of
        # death does not count (the amputation or the death comes first).
        healed = min(
            (day(prim) for k, b, prim in mine
             if k == "follow_up_visit" and b.get("wound_status") == "healed"
             and (amp is None or day(prim) < amp)
             and (death_day is None or day(prim) < death_day)),
            default=None,
        )
        # Adverse events whose onset is within 30 days (day 0 to 30).
        ae_30 = {b["kind"] for k, b, prim in mine if k == "adverse_event" and 0 <= day(prim) <= 30}
        out.append({
            "site": p["patient"]["home_site"],
            "proc": proc,
            "death": day(death) if death is not None else None,
            "last": last_day,
            "amp": amp,
            "first_any": min((t for t, b in reint), default=None),
            "first_unplanned": min((t for t, b in reint if not b["planned"]), default=None),
            "first_major_reint": min((t for t, b in reint if b["kind"] in MAJOR_REINTERVENTIONS), default=None),
            "has_wound": has_wound,
            "healed": healed,
            "dialysis": None if baseline is None else baseline["dialysis_dependent"],
            # The report date on or after day 30: the window has passed.
            "window_passed": (as_of - proc).days >= 30,
            "ae_30": ae_30,
        })
    return out


def thirty_day_status(l, event_by_30):
    """DOMAIN.md section 7: None while the 30-day window is open; else
    "event", "free" (known: death by day 30 or last known on or after day
    30) or "unknown"."""
    if not l["window_passed"]:
        return None
    if event_by_30:
        return "event"
    died_by_30 = l["death"] is not None and l["death"] <= 30
    if died_by_30 or l["last"] >= 30:
        return "free"
    return "unknown"


def thirty_day_counts(limbs, event_by_30):
    """[k, n (known), status unknown] of one 30-day proportion."""
    statuses = [thirty_day_status(l, event_by_30(l)) for l in limbs]
    k = statuses.count("event")
    return [k, k + statuses.count("free"), statuses.count("unknown")]


def thirty_day(limbs):
    died = lambda l: l["death"] is not None and l["death"] <= 30
    return {
        "window_passed": sum(1 for l in limbs if l["window_passed"]),
        "mortality": thirty_day_counts(limbs, died),
        "major_amputation": thirty_day_counts(limbs, lambda l: l["amp"] is not None and l["amp"] <= 30),
        "any_adverse_event": thirty_day_counts(limbs, lambda l: bool(l["ae_30"])),
        "adverse_events": {
            kind: thirty_day_counts(limbs, lambda l, kind=kind: kind in l["ae_30"])
            for kind in ADVERSE_EVENT_KINDS
        },
        "mortality_by_dialysis": {
            "yes": thirty_day_counts([l for l in limbs if l["dialysis"] is True], died),
            "no": thirty_day_counts([l for l in limbs if l["dialysis"] is False], died),
        },
    }


def first(*xs):
    xs = [x for x in xs if x is not None]
    return min(xs) if xs else None


def km_data(limbs, endpoint):
    t, e = [], []
    for l in limbs:
        if endpoint == "amputation_free_survival":
            ev = first(l["amp"], l["death"])
            cens = l["last"]
        elif endpoint == "overall_survival":
            ev, cens = l["death"], l["last"]
        elif endpoint == "freedom_from_major_amputation":
            ev, cens = l["amp"], l["last"]
        elif endpoint == "freedom_from_unplanned_reintervention":
            ev, cens = l["first_unplanned"], first(l["amp"], l["last"])
        elif endpoint == "freedom_from_any_reintervention":
            ev, cens = l["first_any"], first(l["amp"], l["last"])
        else:  # freedom_from_male
            ev, cens = first(l["amp"], l["first_major_reint"]), l["last"]
        t.append(ev if ev is not None else cens)
        e.append(ev is not None)
    return np.asarray(t, dtype=float), np.asarray(e, dtype=bool)


def km_rows(t, e, days):
    kmf = KaplanMeierFitter().fit(t, e)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    et = kmf.event_table
    s = sf.loc[et.index].to_numpy()
    c = ci.loc[et.index].to_numpy()
    rows = []
    for j, (tt, r) in enumerate(zip(et.index, et[["at_risk", "observed", "censored", "removed"]].to_numpy())):
        if r[3] > 0:
            rows.append([float(tt), int(r[0]), int(r[1]), int(r[2]), float(s[j]), float(c[j, 0]), float(c[j, 1])])
    med = float(kmf.median_survival_time_)
    survival_at = kmf.survival_function_at_times(days).to_numpy()
    estimates = [
        [
            float(survival_at[i]),
            # At risk at the start of day t: time >= t.
            int(np.sum(t >= day)),
            int(np.sum(e & (t <= day))),
            int(np.sum(~e & (t <= day))),
        ]
        for i, day in enumerate(days)
    ]
    return {"rows": rows, "median": med if np.isfinite(med) else None, "estimates": estimates}


def cif_estimates(t, status, days):
    """At each day: the number at risk (time >= t) and the events of
    interest, competing events and censorings on or before it."""
    return [
        [
            int(np.sum(t >= day)),
            int(np.sum((t <= day) & (status == 1))),
            int(np.sum((t <= day) & (status > 1))),
            int(np.sum((t <= day) & (status == 0))),
        ]
        for day in days
    ]


def cif_rows(t, status):
    times, cum_inc, ci = cumulative_incidence_competing_risks(status, t, conf_type="log-log", var_type="Aalen")
    rows = []
    for j, tt in enumerate(times):
        at = t == tt
        rows.append([
            float(tt),
            int(np.sum(t >= tt)),
            int(np.sum(at & (status == 1))),
            int(np.sum(at & (status > 1))),
            int(np.sum(at & (status == 0))),
            float(cum_inc[1][j]),
            float(ci[1, 0][j]),
            float(ci[1, 1][j]),
        ])
    return rows


ENDPOINTS = [
    "amputation_free_survival",
    "overall_survival",
    "freedom_from_major_amputation",
    "freedom_from_unplanned_reintervention",
    "freedom_from_any_reintervention",
    "freedom_from_male",
]


def scenario(patients, sc, days):
    as_of = d(sc["as_of"])
    limbs = []
    for p in patients:
        if sc["site"] and p["patient"]["home_site"] != sc["site"]:
            continue
        for l in limbs_of(p, as_of):
            if sc["from"] and l["proc"] < d(sc["from"]):
                continue
            if sc["to"] and l["proc"] > d(sc["to"]):
                continue
            limbs.append(l)
    out = {"n": len(limbs), "km": {}, "logrank_dialysis": {}, "thirty_day": thirty_day(limbs)}
    for ep in ENDPOINTS:
        t, e = km_data(limbs, ep)
        out["km"][ep] = km_rows(t, e, days)
        dial = np.array([l["dialysis"] is True for l in limbs])
        nodial = np.array([l["dialysis"] is False for l in limbs])
        r = logrank_test(t[dial], t[nodial], e[dial], e[nodial])
        out["logrank_dialysis"][ep] = [float(r.test_statistic), float(r.p_value)]
    # Major amputation, death competing.
    t, s = [], []
    for l in limbs:
        if l["amp"] is not None:
            t.append(l["amp"]); s.append(1)
        elif l["death"] is not None:
            t.append(l["death"]); s.append(2)
        else:
            t.append(l["last"]); s.append(0)
    t, s = np.asarray(t, dtype=float), np.asarray(s, dtype=int)
    out["cif_major_amputation"] = cif_rows(t, s)
    out["cif_major_amputation_estimates"] = cif_estimates(t, s, days)
    # Wound healing (limbs with a wound at baseline), amputation and death competing.
    t, s = [], []
    for l in limbs:
        if not l["has_wound"]:
            continue
        if l["healed"] is not None:
            t.append(l["healed"]); s.append(1)
        elif l["amp"] is not None:
            t.append(l["amp"]); s.append(2)
        elif l["death"] is not None:
            t.append(l["death"]); s.append(3)
        else:
            t.append(l["last"]); s.append(0)
    t, s = np.asarray(t, dtype=float), np.asarray(s, dtype=int)
    out["cif_wound_healing"] = cif_rows(t, s)
    out["cif_wound_healing_estimates"] = cif_estimates(t, s, days)
    return out


def main():
    warnings.simplefilter("ignore")
    data = json.load(sys.stdin)
    days = [float(x) for x in data["estimate_days"]]
    result = [scenario(data["patients"], sc, days) for sc in data["scenarios"]]
    json.dump(result, sys.stdout)


main()

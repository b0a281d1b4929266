"""The outcomes curves computed in Python, for `pdva bench outcomes`.

Reads a pdva SQLite registry directly (sqlite3 + json), derives each index
limb's follow-up exactly as DOMAIN.md section 7 and crates/pdva-outcomes
define it (time zero = index procedure; last known date = death, else the
latest date on the patient's counted records, never after the report date
or the end of follow-up; records after the cut-off and voided records do not
count), and computes with pandas, lifelines and scikit-survival:
Kaplan-Meier of amputation-free survival, overall survival and freedom from
major amputation, and the Aalen-Johansen cumulative incidence of major
amputation with death competing.

Usage: python outcomes_python.py DB AS_OF   (prints one JSON object)
"""

import json
import sqlite3
import sys
import time
from array import array
from datetime import date

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from sksurv.nonparametric import cumulative_incidence_competing_risks

MAJOR = {"syme", "below_knee", "through_knee", "above_knee", "hip_disarticulation"}
KINDS = {
    "consent": (0, "consent_date", ("research_consent_withdrawn_on",)),
    "baseline": (1, "assessment_date", ("mdt_decision_date",)),
    "procedure": (2, "procedure_date", ("discharge_date",)),
    "antithrombotic_therapy": (3, "start_date", ("stop_date",)),
    "follow_up_visit": (4, "visit_date", ()),
    "amputation": (5, "date", ()),
    "reintervention": (6, "date", ()),
    "death": (7, "date", ()),
    "adverse_event": (8, "onset_date", ("resolved_on",)),
    "quality_of_life": (9, "assessment_date", ()),
}
PROCEDURE, AMPUTATION, DEATH = 2, 5, 7
NONE = -1


def read(db):
    """Rows into compact columns, one entry per non-voided clinical record;
    a procedure row is keyed by its own id, other rows by their procedure."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    day_cache = {}

    def day(s):
        d = day_cache.get(s)
        if d is None:
            d = day_cache[s] = date.fromisoformat(s).toordinal()
        return d

    patient_index, ended = {}, array("i")
    for pid, body in conn.execute("SELECT id, body FROM record WHERE kind = 'patient' AND voided = 0"):
        patient_index[pid] = len(ended)
        e = json.loads(body).get("follow_up_ended_on")
        ended.append(day(e) if e else NONE)

    procedure_index = {}
    kind_col, patient_col, proc_col = array("b"), array("i"), array("i")
    primary_col, secondary_col, major_col = array("i"), array("i"), array("b")
    for rid, kind, pid, proc, body in conn.execute(
        "SELECT id, kind, patient_id, procedure_id, body FROM record "
        "WHERE voided = 0 AND patient_id IS NOT NULL"
    ):
        p = patient_index.get(pid)
        if p is None:
            continue
        code, primary_field, secondary_fields = KINDS[kind]
        r = json.loads(body)
        key = rid if code == PROCEDURE else proc
        kind_col.append(code)
        patient_col.append(p)
        primary_col.append(day(r[primary_field]))
        sec = NONE
        for f in secondary_fields:
            v = r.get(f)
            if v:
                sec = max(sec, day(v))
        secondary_col.append(sec)
        major_col.append(1 if code == AMPUTATION and r["level"] in MAJOR else 0)
        proc_col.append(procedure_index.setdefault(key, len(procedure_index)) if key else NONE)
    conn.close()
    return {
        "ended": np.frombuffer(ended, dtype=np.int32),
        "kind": np.frombuffer(kind_col, dtype=np.int8),
        "patient": np.frombuffer(patient_col, dtype=np.int32),
        "procedure": np.frombuffer(proc_col, dtype=np.int32),
        "primary": np.frombuffer(primary_col, dtype=np.int32),
        "secondary": np.frombuffer(secondary_col, dtype=np.int32),
        "major": np.frombuffer(major_col, dtype=np.int8),
    }


def compute(cols, as_of):
    as_of = as_of.toordinal()
    ended = cols["ended"]
    cut_patient = np.where((ended != NONE) & (ended <= as_of), np.minimum(ended, as_of), as_of)
    df = pd.DataFrame(
        {k: cols[k] for k in ("kind", "patient", "procedure", "primary", "secondary", "major")}
    )
    df["cut"] = cut_patient[df["patient"].to_numpy()]
    df = df[df["primary"] <= df["cut"]]
    sec_ok = (df["secondary"] != NONE) & (df["secondary"] <= df["cut"])
    df["latest"] = np.where(sec_ok, np.maximum(df["primary"], df["secondary"]), df["primary"])

    deaths = df[df["kind"] == DEATH].groupby("patient")["primary"].min()
    latest = df.groupby("patient")["latest"].max()
    last_known = latest.copy()
    last_known.loc[deaths.index] = deaths

    procs = df[df["kind"] == PROCEDURE][["procedure", "patient", "primary"]].rename(
        columns={"primary": "proc_date"}
    )
    amps = df[(df["kind"] == AMPUTATION) & (df["major"] == 1)].groupby("procedure")["primary"].min()
    limbs = procs.set_index("procedure")
    limbs["amp"] = amps.reindex(limbs.index)
    limbs["death"] = deaths.reindex(limbs["patient"].to_numpy()).to_numpy()
    limbs["last"] = last_known.reindex(limbs["patient"].to_numpy()).to_numpy()
    zero = limbs["proc_date"].to_numpy(dtype=float)
    amp = limbs["amp"].to_numpy(dtype=float) - zero
    death = limbs["death"].to_numpy(dtype=float) - zero
    last = np.maximum(limbs["last"].to_numpy(dtype=float) - zero, 0.0)

    afs_event_time = np.fmin(amp, death)
    afs_t = np.where(np.isnan(afs_event_time), last, afs_event_time)
    afs_e = ~np.isnan(afs_event_time)
    os_t = np.where(np.isnan(death), last, death)
    os_e = ~np.isnan(death)
    ffma_t = np.where(np.isnan(amp), last, amp)
    ffma_e = ~np.isnan(amp)

    afs = KaplanMeierFitter().fit(afs_t, afs_e)
    os_ = KaplanMeierFitter().fit(os_t, os_e)
    ffma = KaplanMeierFitter().fit(ffma_t, ffma_e)
    status = np.where(~np.isnan(amp), 1, np.where(~np.isnan(death), 2, 0))
    # Time: the amputation, else the last known date (the death, for those who died).
    times, cum_inc, ci = cumulative_incidence_competing_risks(
        status, ffma_t, conf_type="log-log", var_type="Aalen"
    )
    # Touch the intervals as the Rust report does.
    _ = (afs.confidence_interval_, os_.confidence_interval_, ffma.confidence_interval_)
    j = int(np.searchsorted(times, 365.0, side="right")) - 1
    return {
        "limbs": int(len(limbs)),
        "afs_365": float(afs.survival_function_at_times(365.0).iloc[0]),
        "os_365": float(os_.survival_function_at_times(365.0).iloc[0]),
        "ffma_365": float(ffma.survival_function_at_times(365.0).iloc[0]),
        "cif_major_amputation_365": float(cum_inc[1][j]) if j >= 0 else 0.0,
    }


def main():
    db, as_of = sys.argv[1], date.fromisoformat(sys.argv[2])
    # Wall time, and the process's CPU time (all threads), which a busy
    # machine does not inflate.
    t0, c0 = time.perf_counter(), time.process_time()
    cols = read(db)
    t1, c1 = time.perf_counter(), time.process_time()
    result = compute(cols, as_of)
    t2, c2 = time.perf_counter(), time.process_time()
    result.update(
        {
            "read_seconds": t1 - t0,
            "compute_seconds": t2 - t1,
            "read_cpu_seconds": c1 - c0,
            "compute_cpu_seconds": c2 - c1,
            "records": int(len(cols["kind"])),
        }
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

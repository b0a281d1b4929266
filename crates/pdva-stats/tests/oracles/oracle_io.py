"""Shared input/output for the oracle scripts.

Each script reads one JSON document on stdin (all the data sets for one
method) and prints one JSON document on stdout. Non-finite floats are sent as
the strings "inf", "-inf", "nan" (JSON has no such numbers). A missing Python
package exits with status 3 so that the Rust tests can tell "oracles not
installed" from a real failure.
"""

import json
import math
import sys
import warnings

MISSING_PACKAGE = 3


def require(import_fn):
    """Runs the script's imports; exits 3 naming the package if one is missing."""
    try:
        return import_fn()
    except ImportError as e:  # pragma: no cover - depends on the environment
        print(f"missing oracle package: {e}", file=sys.stderr)
        sys.exit(MISSING_PACKAGE)


def clean(x):
    """Converts numpy scalars/arrays and non-finite floats for JSON."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if hasattr(x, "tolist"):
        return clean(x.tolist())
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    raise TypeError(f"cannot serialise {type(x)}")


def run(compute):
    """Reads stdin, applies compute, prints the cleaned result."""
    warnings.simplefilter("ignore")
    data = json.load(sys.stdin)
    json.dump(clean(compute(data)), sys.stdout)

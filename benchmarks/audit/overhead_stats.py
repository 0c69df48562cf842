"""How paired repetitions of the overhead benchmark are summed up and judged.

Each repetition runs the notebook under a plain kernel and under the audit
kernel, one after the other; its paired overhead is audit / plain - 1.  The
VM's noise moves whole runs by a few per cent (the plain runs alone spread by
1-10 %), far more than the 2 % the audit may cost, so no single run decides.
What does is the mean over many repetitions and how sure it is: the target
is met when the one-sided 95 % upper confidence bound of the mean paired
overhead is at most the target, and no repetition is above the limit.
"""
from __future__ import annotations

import math
import statistics

TARGET = 0.02
LIMIT = 0.05
NORMAL_95 = statistics.NormalDist().inv_cdf(0.95)


def t_quantile_95(dof: int) -> float:
    """Student's t 95 % quantile for `dof` degrees of freedom (Cornish-Fisher
    expansion around the normal quantile, within 0.3 % of the tables from
    3 degrees of freedom; too small below that, so fewer than 4 repetitions
    get no bound), so that the benchmarks need no SciPy."""
    z = NORMAL_95
    return (z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * dof ** 3))


def paired_summary(paired: list) -> dict:
    """Mean, standard error, one-sided 95 % upper bound, median, range and
    counts over the target and the limit of paired overheads (fractions)."""
    n = len(paired)
    if n == 0:
        raise ValueError("no paired repetitions to sum up")
    mean = statistics.fmean(paired)
    se = statistics.stdev(paired) / math.sqrt(n) if n > 1 else None
    upper = mean + t_quantile_95(n - 1) * se if n >= 4 else None
    return {"n": n, "mean": round(mean, 4), "standard_error": rounded(se),
            "upper_95": rounded(upper), "median": round(statistics.median(paired), 4),
            "min": round(min(paired), 4), "max": round(max(paired), 4),
            "above_target": sum(x > TARGET for x in paired),
            "above_limit": sum(x > LIMIT for x in paired)}


def rounded(x):
    return None if x is None else round(x, 4)


def verdict(summary: dict, lower_bound: float | None = None) -> tuple[bool | None, str]:
    """(met, why) for a paired_summary: met is True, False, or None when the
    repetitions neither show the target nor miss it.  `lower_bound`: the
    checkpoint's share of the cells' thread, which nothing overlaps, so above
    the target the target is missed whatever the wall clock says."""
    if lower_bound is not None and lower_bound > TARGET:
        return False, (f"not met: the checkpoint alone keeps the cells' thread "
                       f"{100 * lower_bound:.2f} % of the cells' time")
    s = summary
    if s["above_limit"]:
        return False, f"not met: {s['above_limit']} of {s['n']} repetitions above " \
                      f"{100 * LIMIT:.0f} % (largest {100 * s['max']:+.2f} %)"
    if s["upper_95"] is None:
        return None, f"not shown: {s['n']} repetitions are too few for a bound"
    said = (f"mean {100 * s['mean']:+.2f} % ± {100 * s['standard_error']:.2f} % over "
            f"{s['n']} paired repetitions, 95 % upper bound {100 * s['upper_95']:+.2f} %, "
            f"largest {100 * s['max']:+.2f} %")
    if s["upper_95"] > TARGET:
        return None, f"not shown: the upper bound is above {100 * TARGET:.0f} % ({said})"
    return True, f"met ({said})"

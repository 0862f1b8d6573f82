"""Reference values for the identity-level (cluster) bootstrap interval of Spearman's rho, computed
independently with the Python standard library: clusters are resampled with replacement by
Python's own generator (the draws are written out so that the other side can replay them), every
resample's rho is the Pearson correlation of tie-averaged ranks over the concatenated members, and
the interval is the (1 - level)/2 and (1 + level)/2 quantiles of those values by
statistics.quantiles(method="inclusive") (linear interpolation between order statistics).
Writes ../fixtures/cluster_bootstrap.json.

Run: python3 make_cluster_bootstrap.py
"""
import json
import os
import random
import statistics

from rank_stats import average_ranks

rng = random.Random(11)
clusters, x, y = [], [], []
for c in range(7):
    offset = rng.gauss(0, 1)
    for _ in range(rng.randint(3, 9)):
        q = round(rng.uniform(0, 1), 1)  # one decimal: ties within the sample
        clusters.append(100 + 3 * c)  # cluster ids need not be 0..K-1
        x.append(q)
        y.append(round(offset + 1.5 * q + rng.gauss(0, 0.7), 2))


ids = list(dict.fromkeys(clusters))  # order of first appearance
members = {c: [i for i, k in enumerate(clusters) if k == c] for c in ids}
picks = [[rng.randrange(len(ids)) for _ in ids] for _ in range(200)]
stats = []
for pick in picks:
    rows = [i for g in pick for i in members[ids[g]]]
    xs, ys = [x[i] for i in rows], [y[i] for i in rows]
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        continue
    stats.append(statistics.correlation(average_ranks(xs), average_ranks(ys)))
level = 0.9
cuts = statistics.quantiles(stats, n=20, method="inclusive")  # 5%, 10%, ..., 95%
out = {
    "x": x,
    "y": y,
    "clusters": clusters,
    "picks": picks,
    "level": level,
    "resamples": len(stats),
    "low": cuts[0],
    "high": cuts[-1],
    "spearman": statistics.correlation(average_ranks(x), average_ranks(y)),
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "cluster_bootstrap.json")
with open(path, "w") as f:
    json.dump(out, f)
    f.write("\n")
print(f"n {len(x)} resamples {len(stats)} rho {out['spearman']:.6f} interval [{out['low']:.6f}, {out['high']:.6f}]")

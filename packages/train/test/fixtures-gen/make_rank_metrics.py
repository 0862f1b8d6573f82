"""Reference values for the validation metrics' rank statistics, computed independently with the
Python standard library: Spearman's rho (Pearson correlation of tie-averaged ranks) and the ROC AUC
(genuine > impostor pair count, ties one half, over all genuine x impostor pairs).
Writes ../fixtures/rank_metrics.json.

Run: python3 make_rank_metrics.py
"""
import json
import os
import random
import statistics

from rank_stats import average_ranks

rng = random.Random(5)
# Values rounded to one decimal so that both sides have ties.
x = [round(rng.gauss(0, 1), 1) for _ in range(40)]
y = [round(0.6 * a + rng.gauss(0, 1), 1) for a in x]


rho = statistics.correlation(average_ranks(x), average_ranks(y))
genuine = [round(rng.gauss(0.5, 0.2), 2) for _ in range(30)]
impostor = [round(rng.gauss(0.2, 0.2), 2) for _ in range(50)]
wins = sum(1.0 if g > i else 0.5 if g == i else 0.0 for g in genuine for i in impostor)
auc = wins / (len(genuine) * len(impostor))
out = {"x": x, "y": y, "spearman": rho, "genuine": genuine, "impostor": impostor, "auc": auc}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "rank_metrics.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"spearman {rho:.12f} auc {auc:.12f}")

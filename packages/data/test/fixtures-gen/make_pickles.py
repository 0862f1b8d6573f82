#!/usr/bin/env python3
"""Small features pickles in the official layout ({img_feats [N, D], norms [N, 1], faceness_scores [N]},
pickled by numpy) for the bad-input tests of the features reader, plus one naming a forbidden global.

Writes ../fixtures/pickles/:
  good_3x4.pickle       3 unit rows, D = 4 (protocol 4)
  nan_row1.pickle       row 1 has a NaN
  inf_row2.pickle       row 2 has +inf
  zero_row0.pickle      row 0 is all zeros
  not_unit_row2.pickle  row 2 has norm 2
  forbidden.pickle      a dict whose value is built by os.system (never executed by our reader)
Run: python3 make_pickles.py (needs numpy; outputs committed)
"""
import os
import pickle
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'pickles')


def features(rows):
    feats = np.array(rows, dtype=np.float32)
    n = feats.shape[0]
    return {'img_feats': feats, 'norms': np.arange(1, n + 1, dtype=np.float32).reshape(n, 1) * 10,
            'faceness_scores': np.linspace(0.1, 0.9, n).astype(np.float32)}


class Forbidden:
    def __reduce__(self):
        return (os.system, ('echo this must never run',))


def main():
    os.makedirs(OUT, exist_ok=True)
    s = 0.5
    unit = [[1, 0, 0, 0], [0, 0.6, 0.8, 0], [s, s, s, s]]
    cases = {
        'good_3x4': unit,
        'nan_row1': [unit[0], [0, float('nan'), 0.8, 0], unit[2]],
        'inf_row2': [unit[0], unit[1], [0, float('inf'), 0, 0]],
        'zero_row0': [[0, 0, 0, 0], unit[1], unit[2]],
        'not_unit_row2': [unit[0], unit[1], [1, 1, 1, 1]],
    }
    for name, rows in cases.items():
        with open(os.path.join(OUT, name + '.pickle'), 'wb') as f:
            pickle.dump(features(rows), f, protocol=4)
    with open(os.path.join(OUT, 'forbidden.pickle'), 'wb') as f:
        pickle.dump({'img_feats': Forbidden()}, f, protocol=2)


if __name__ == '__main__':
    main()

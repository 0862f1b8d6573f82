#!/usr/bin/env python3
"""Writes test/fixtures/optim/reference.json: torch's AdamW (two groups, weight decay, several steps,
a parameter skipped on one step), clip_grad_norm_ and MultiStepLR on small tensors, computed by
Debian's python3-torch (1.13). Run from packages/model: python3 test/fixtures-gen/optim_reference.py
Only the generated JSON is used by the tests; torch is never a test dependency."""
import json
import os

import torch

torch.manual_seed(1234)
out = {'torch': torch.__version__}

# AdamW: group 0 = {a} (lr 1e-3, wd 0), group 1 = {b, c} (lr 5e-4, wd 1e-2); 4 steps with
# clipping to norm 1.0 (step 2 also leaves c without a gradient), MultiStepLR milestones [2, 3] x0.5.
params = {'a': torch.randn(3), 'b': torch.randn(2, 3), 'c': torch.randn(4)}
tensors = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
opt = torch.optim.AdamW([{'params': [tensors['a']], 'lr': 1e-3, 'weight_decay': 0.0},
                         {'params': [tensors['b'], tensors['c']], 'lr': 5e-4, 'weight_decay': 1e-2}],
                        betas=(0.9, 0.999), eps=1e-8)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 3], gamma=0.5)
out['initial'] = {k: v.flatten().tolist() for k, v in params.items()}
out['shapes'] = {k: list(v.shape) for k, v in params.items()}
out['steps'] = []
for step in range(4):
    grads = {k: torch.randn_like(v) * (3.0 if step == 0 else 0.05) for k, v in params.items()}
    if step == 2:
        del grads['c']
    opt.zero_grad(set_to_none=True)
    for k, g in grads.items():
        tensors[k].grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_([t for k, t in tensors.items() if k in grads], 1.0)
    lrs = [g['lr'] for g in opt.param_groups]
    opt.step()
    sched.step()
    out['steps'].append({
        'grads': {k: g.flatten().tolist() for k, g in grads.items()},
        'total_norm': float(total),
        'clipped': {k: tensors[k].grad.flatten().tolist() for k in grads},
        'lrs': lrs,
        'after': {k: t.detach().flatten().tolist() for k, t in tensors.items()},
    })
out['lrs_after'] = [g['lr'] for g in opt.param_groups]

dest = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'optim', 'reference.json')
with open(dest, 'w') as f:
    json.dump(out, f, indent=1)
print('wrote', os.path.normpath(dest))

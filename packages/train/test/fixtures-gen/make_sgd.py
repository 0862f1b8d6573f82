"""Reference values for the SGD optimiser test: torch.optim.SGD (momentum 0.9, dampening 0, no
Nesterov) with two parameter groups (weight decay 0 and 5e-4), three steps with changing
learning rates and a parameter without gradient in step 2. Writes ../fixtures/sgd_torch.json.

Run with Debian's python3-torch: /usr/bin/python3 make_sgd.py
"""
import json
import os

import torch

torch.manual_seed(7)
a = torch.nn.Parameter(torch.randn(5))
b = torch.nn.Parameter(torch.randn(2, 3))
init = {"a": a.detach().clone().tolist(), "b": b.detach().clone().flatten().tolist()}
opt = torch.optim.SGD([{"params": [a], "weight_decay": 0.0}, {"params": [b], "weight_decay": 5e-4}], lr=0.1, momentum=0.9)
grads = []
after = []
lrs = [0.1, 0.1, 0.01]
for step in range(3):
    for g in opt.param_groups:
        g["lr"] = lrs[step]
    ga = torch.randn(5)
    gb = torch.randn(2, 3)
    a.grad = ga.clone()
    b.grad = None if step == 1 else gb.clone()
    opt.step()
    grads.append({"a": ga.tolist(), "b": None if step == 1 else gb.flatten().tolist()})
    after.append({"a": a.detach().tolist(), "b": b.detach().flatten().tolist()})

out = {"torch": torch.__version__, "momentum": 0.9, "weight_decay": [0.0, 5e-4], "lrs": lrs, "init": init, "grads": grads, "after": after}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "fixtures", "sgd_torch.json"), "w") as f:
    json.dump(out, f, indent=1)

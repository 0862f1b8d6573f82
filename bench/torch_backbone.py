"""IResNet ("ir", AdaFace layout) eval forward in PyTorch, timed: the comparison for bench/extract.ts.

Written for this benchmark from the architecture description (not the official code). Prints one
JSON line: {"arch", "batch", "threads", "torch", "images_per_s", "batch_ms", "batch_cpu_ms"}. Random weights: speed
does not depend on the values. With --train: one training step (train-mode forward, loss sum(pre*R),
backward) instead of an inference batch; --widths/--units/--embedding/--size describe a custom net.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

UNITS = {"ir_18": [2, 2, 2, 2], "ir_34": [3, 4, 6, 3], "ir_50": [3, 4, 14, 3], "ir_101": [3, 13, 30, 3]}
WIDTHS = [64, 128, 256, 512]


class Unit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        if cin == cout:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.PReLU(cout),
            nn.Conv2d(cout, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class IResNet(nn.Module):
    def __init__(self, units, widths=WIDTHS, embedding=512, size=112):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.PReLU(widths[0]))
        body = []
        cin = widths[0]
        for width, n in zip(widths, units):
            for u in range(n):
                body.append(Unit(cin, width, 2 if u == 0 else 1))
                cin = width
        self.body = nn.Sequential(*body)
        side = size
        for _ in widths:
            side = (side - 1) // 2 + 1
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(cin), nn.Dropout(0.4), nn.Flatten(), nn.Linear(cin * side * side, embedding), nn.BatchNorm1d(embedding, affine=False)
        )

    def forward(self, x):
        x = self.output_layer(self.body(self.input_layer(x)))
        norm = torch.norm(x, 2, 1, True)
        return x / norm, norm


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="ir_18", choices=sorted(UNITS))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train", action="store_true")
    p.add_argument("--widths", type=str, default="")
    p.add_argument("--units", type=str, default="")
    p.add_argument("--embedding", type=int, default=512)
    p.add_argument("--size", type=int, default=112)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    widths = [int(v) for v in a.widths.split(",")] if a.widths else WIDTHS
    units = [int(v) for v in a.units.split(",")] if a.units else UNITS[a.arch]
    model = IResNet(units, widths, a.embedding, a.size)
    x = torch.randn(a.batch, 3, a.size, a.size)
    times = []
    cpu = []  # CPU seconds of all threads: stable when other processes compete for the cores
    if a.train:
        model.train()
        r = torch.randn(a.batch, a.embedding)

        def step():
            model.zero_grad()
            pre = model.output_layer(model.body(model.input_layer(x)))
            (pre * r).sum().backward()

        step()  # warm-up
        for _ in range(a.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    else:
        model.eval()
        with torch.inference_mode():
            model(x)  # warm-up
            for _ in range(a.runs):
                t0, c0 = time.perf_counter(), time.process_time()
                model(x)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    cpu_med = statistics.median(cpu)
    print(json.dumps({"arch": a.arch, "batch": a.batch, "threads": torch.get_num_threads(), "torch": torch.__version__, "images_per_s": a.batch / med, "batch_ms": med * 1000, "batch_cpu_ms": cpu_med * 1000}))


if __name__ == "__main__":
    main()

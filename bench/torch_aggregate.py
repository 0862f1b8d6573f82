#!/usr/bin/env python3
"""PyTorch timing of the FaceCoresetNet aggregator, for comparison in bench/aggregate.ts.

A transcription of the official forward pass (quality-aware FPS with gumbel_softmax as the official
code draws it, norm encoding, one decoder layer without feed-forward, mean and normalisation) and of
one training step (AdaFace head, cross-entropy, backward, clip_grad_norm_, AdamW with two groups).
Only for measuring time: it needs torch (Debian's python3-torch), never used by tests.

    python3 bench/torch_aggregate.py [--runs 11] [--warmup 3] [--threads 2] [--json]
"""
import argparse
import json
import math
import statistics
import time

import torch
from torch import nn
import torch.nn.functional as F

D, K, H = 512, 3, 8


def norm_encoding(v, dim):
    """sin/cos of 2*pi*v / 10000^(2*floor(j/2)/dim), interleaved. v: [B, N] -> [B, N, dim]"""
    j = torch.arange(dim, dtype=torch.float32)
    freq = 10000 ** (2 * torch.div(j, 2, rounding_mode='floor') / dim)
    arg = (v * 2 * math.pi)[:, :, None] / freq
    return torch.stack((arg[:, :, 0::2].sin(), arg[:, :, 1::2].cos()), dim=3).flatten(2)


class Aggregator(nn.Module):
    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.tensor(0.01))
        self.self_attn = nn.MultiheadAttention(D, H, dropout=0.1, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(D, H, dropout=0.1, batch_first=True)
        self.norm1 = nn.LayerNorm(D)
        self.norm2 = nn.LayerNorm(D)
        self.pos_norm = nn.LayerNorm(D)
        self.drop1 = nn.Dropout(0.1)
        self.drop2 = nn.Dropout(0.1)

    def quality_distance(self, c, norms, x):
        cos = torch.bmm(F.normalize(x, dim=-1), F.normalize(c, dim=-1).transpose(1, 2))  # [B,T,1]
        return torch.pow(norms, self.gamma) * (1 - cos) / 2

    def fps(self, x, norms, k):
        scaler, tau = (1.0, 1.0) if self.training else (1e4, 1e-10)
        mask = F.gumbel_softmax(norms * scaler, tau=tau, hard=True, dim=1)
        core = (x.transpose(1, 2) @ mask).transpose(1, 2)
        dist = self.quality_distance(core, norms, x)
        for _ in range(k - 1):
            mask = F.gumbel_softmax(dist * scaler, tau=tau, hard=True, dim=1)
            new = (x.transpose(1, 2) @ mask).transpose(1, 2)
            dist = torch.min(dist, self.quality_distance(new, norms, x))
            core = torch.cat([core, new], dim=1)
        return core

    def forward(self, f, n):
        x = n * f
        core = self.fps(x, n, min(K, f.shape[1]))
        enc_t = self.pos_norm(norm_encoding(n.squeeze(-1), D))
        enc_c = self.pos_norm(norm_encoding(core.norm(dim=2), D))
        q = core + enc_c
        q = self.norm1(q + self.drop1(self.self_attn(q, q, q, need_weights=False)[0]))
        delta = self.norm2(core + self.drop2(self.cross_attn(q, x + enc_t, x, need_weights=False)[0]))
        agg = (core + delta).mean(dim=1)
        norm = agg.norm(dim=-1, keepdim=True)
        return agg / norm, norm


class AdaFace(nn.Module):
    def __init__(self, classes, m=0.8, h=0.333, s=48.0, t_alpha=0.01):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(D, classes).uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5))
        self.m, self.h, self.s, self.t_alpha, self.eps = m, h, s, t_alpha, 1e-3
        self.register_buffer('batch_mean', torch.ones(1) * 20)
        self.register_buffer('batch_std', torch.ones(1) * 100)

    def forward(self, e, norms, labels):
        cos = (e @ F.normalize(self.kernel, dim=0)).clamp(-1 + self.eps, 1 - self.eps)
        safe = norms.clip(0.001, 100).detach()
        with torch.no_grad():
            self.batch_mean = safe.mean() * self.t_alpha + (1 - self.t_alpha) * self.batch_mean
            self.batch_std = torch.nan_to_num(safe.std()) * self.t_alpha + (1 - self.t_alpha) * self.batch_std
        z = ((safe - self.batch_mean) / (self.batch_std + self.eps) * self.h).clip(-1, 1)
        onehot = torch.zeros_like(cos).scatter_(1, labels[:, None], 1.0)
        theta = (cos.acos() + onehot * (-self.m * z)).clip(self.eps, math.pi - self.eps)
        return (theta.cos() - onehot * (self.m + self.m * z)) * self.s


def median_ms(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def unit_set(b, t):
    return F.normalize(torch.randn(b, t, D), dim=-1), 5 + 30 * torch.rand(b, t, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=11)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--classes', type=int, default=10000)
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Aggregator()
    model.eval()
    eval_ms = {}
    for t in (10, 100, 1000, 8000):
        f, n = unit_set(1, t)

        def run():
            # The official validation runs the aggregator with autograd on.
            model(f, n)

        eval_ms[str(t)] = median_ms(run, a.runs, a.warmup)

    model.train()
    head = AdaFace(a.classes)
    opt = torch.optim.AdamW(
        [{'params': [model.gamma], 'lr': 1e-4, 'weight_decay': 0.0},
         {'params': [p for p in [*model.parameters(), *head.parameters()] if p is not model.gamma], 'lr': 1e-4, 'weight_decay': 1e-3}])
    f, n = unit_set(20, 20)
    labels = torch.randint(0, a.classes, (20,))

    def step():
        opt.zero_grad()
        e, norm = model(f, n)
        loss = F.cross_entropy(head(e, norm, labels), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], 1.0)
        opt.step()

    train_ms = median_ms(step, a.runs, a.warmup)
    out = {'torch': torch.__version__, 'threads': a.threads, 'eval_ms': eval_ms, 'train_step_ms': train_ms}
    print(json.dumps(out) if a.json else out)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Independent alignment reference with numpy: skimage's SimilarityTransform.estimate (its
_umeyama, SVD route, float64) and a bilinear warp with constant-0 border in the cv2.warpAffine
convention (output pixel (x, y) samples the source at M^-1 (x, y, 1); pixel centres at integers).

Writes ../fixtures/alignment/:
  image.npy           uint8 [H, W, 3] a synthetic loose crop
  landmarks.npy       float64 [S, 10] landmark sets (incl. rotated, scaled, mirrored, off-image)
  matrices.npy        float64 [S, 2, 3] estimated src->template transforms
  warped.npy          uint8 [S, 112, 112, 3] the warp rounded half up (floor(v + 0.5))
  near_half.npy       uint8 packbits of [S, 112, 112, 3]: where the unrounded value is within 1e-6 of
                      a .5 tie, so float error of either side may round it the other way
Run: python3 make_alignment.py (deterministic; outputs committed)
"""
import os
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'alignment')

TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])


def umeyama(src, dst, estimate_scale=True):
    """skimage.transform._geometric._umeyama."""
    num, dim = src.shape
    src_mean = src.mean(axis=0)
    dst_mean = dst.mean(axis=0)
    src_demean = src - src_mean
    dst_demean = dst - dst_mean
    A = dst_demean.T @ src_demean / num
    d = np.ones((dim,), dtype=np.float64)
    if np.linalg.det(A) < 0:
        d[dim - 1] = -1
    T = np.eye(dim + 1, dtype=np.float64)
    U, S, V = np.linalg.svd(A)
    rank = np.linalg.matrix_rank(A)
    if rank == 0:
        return np.nan * T
    elif rank == dim - 1:
        if np.linalg.det(U) * np.linalg.det(V) > 0:
            T[:dim, :dim] = U @ V
        else:
            s = d[dim - 1]
            d[dim - 1] = -1
            T[:dim, :dim] = U @ np.diag(d) @ V
            d[dim - 1] = s
    else:
        T[:dim, :dim] = U @ np.diag(d) @ V
    scale = 1.0 / src_demean.var(axis=0).sum() * (S @ d) if estimate_scale else 1.0
    T[:dim, dim] = dst_mean - scale * (T[:dim, :dim] @ src_mean.T)
    T[:dim, :dim] *= scale
    return T


def warp(img, M, size):
    h, w, c = img.shape
    full = np.vstack([M, [0, 0, 1]])
    inv = np.linalg.inv(full)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx = sx - x0
    fy = sy - y0
    out = np.zeros((size, size, c), dtype=np.float64)
    padded = img.astype(np.float64)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy = y0 + dy
            xx = x0 + dx
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            vals = np.zeros((size, size, c))
            vals[inside] = padded[yy[inside], xx[inside]]
            out += (wy * wx)[..., None] * vals
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240)
    h, w = 150, 130
    ys, xs = np.mgrid[0:h, 0:w]
    img = np.stack([(xs * 2 + ys) % 256, (ys * 3) % 256, ((xs // 8 + ys // 8) % 2) * 200 + rng.integers(0, 50, (h, w))], axis=-1).astype(np.uint8)
    base = (TEMPLATE - [56, 72]) * 1.3 + [65, 80]
    sets = [base]
    for angle, scale, shift in ((0.3, 1.0, (3, -2)), (-0.7, 0.6, (10, 5)), (2.5, 1.8, (-4, 8))):
        r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        sets.append(((base - [65, 80]) @ r.T) * scale + [65, 80] + shift)
    sets.append(base + rng.normal(0, 3.0, base.shape))        # noisy detector output
    sets.append(base * [-1, 1] + [130, 0])                     # mirrored order: det(A) < 0 branch
    sets.append(base + [90, 60])                               # face partly outside: border 0
    landmarks = np.array([s.reshape(-1) for s in sets])
    mats = np.array([umeyama(s, TEMPLATE)[:2] for s in sets])
    warped = np.array([warp(img, m, 112) for m in mats])
    np.save(os.path.join(OUT, 'image.npy'), img)
    np.save(os.path.join(OUT, 'landmarks.npy'), landmarks)
    np.save(os.path.join(OUT, 'matrices.npy'), mats)
    np.save(os.path.join(OUT, 'warped.npy'), np.floor(warped + 0.5).clip(0, 255).astype(np.uint8))
    near_half = np.abs(warped - np.floor(warped) - 0.5) < 1e-6
    np.save(os.path.join(OUT, 'near_half.npy'), np.packbits(near_half.reshape(-1)))


if __name__ == '__main__':
    main()

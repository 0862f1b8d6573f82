/**
 * Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_ (and Lightning's
 * `gradient_clip_val` with the norm algorithm): total = ‖(‖g_1‖, ‖g_2‖, …)‖,
 * coef = min(maxNorm / (total + 1e-6), 1), every gradient multiplied by coef (float32).
 */

export interface ClipResult {
  /** global L2 norm before clipping */
  totalNorm: number;
  /** the factor applied (1 when the norm is already within maxNorm) */
  coef: number;
}

const CLIP_EPS = 1e-6;

/** The global L2 norm of a set of gradients (float64 accumulation). */
export function globalGradNorm(grads: Iterable<Float32Array>): number {
  let total = 0;
  for (const g of grads) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    total += s;
  }
  return Math.sqrt(total);
}

/** The clipping factor for gradients of global norm `totalNorm` (float32, as torch). */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  return Math.min(Math.fround(maxNorm / (totalNorm + CLIP_EPS)), 1);
}

/**
 * Clips the gradients in place; returns the norm before clipping and the factor used. (To save a
 * pass over the gradients, compute the factor with globalGradNorm + clipCoefficient and hand it
 * to AdamW.step as `gradScale` instead.)
 */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): ClipResult {
  const list = [...grads];
  const totalNorm = globalGradNorm(list);
  const coef = clipCoefficient(totalNorm, maxNorm);
  if (coef < 1) for (const g of list) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return { totalNorm, coef };
}

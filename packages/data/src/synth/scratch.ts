/**
 * Reusable scratch buffers for the per-image pixel work (hundreds of kilobytes per image would
 * otherwise be allocated and collected thousands of times). A buffer is valid until the next
 * request under the same name; contents are not cleared.
 */
const f64 = new Map<string, Float64Array>();
const f32 = new Map<string, Float32Array>();

export function scratchF64(name: string, length: number): Float64Array {
  let buf = f64.get(name);
  if (!buf || buf.length < length) {
    buf = new Float64Array(Math.max(length, Math.ceil((buf?.length ?? 0) * 1.5)));
    f64.set(name, buf);
  }
  return buf.length === length ? buf : buf.subarray(0, length);
}

export function scratchF32(name: string, length: number): Float32Array {
  let buf = f32.get(name);
  if (!buf || buf.length < length) {
    buf = new Float32Array(Math.max(length, Math.ceil((buf?.length ?? 0) * 1.5)));
    f32.set(name, buf);
  }
  return buf.length === length ? buf : buf.subarray(0, length);
}

const u8 = new Map<string, Uint8Array>();

export function scratchU8(name: string, length: number): Uint8Array {
  let buf = u8.get(name);
  if (!buf || buf.length < length) {
    buf = new Uint8Array(Math.max(length, Math.ceil((buf?.length ?? 0) * 1.5)));
    u8.set(name, buf);
  }
  return buf.length === length ? buf : buf.subarray(0, length);
}

/**
 * Pixel degradations of the demo generator: the blur has the standard deviation it claims, the
 * down-scaling keeps flat areas flat, the noise has the std it claims.
 */
import { addNoise, gaussianBlur, upsampleBilinear, type FloatImage } from '../src/synth/pixels';
import { Random } from '../src/synth/random';

function impulse(size: number): FloatImage {
  const data = new Float32Array(size * size * 3);
  const c = (size - 1) / 2;
  data[(c * size + c) * 3 + 1] = 1000; // green channel only
  return { data, width: size, height: size };
}

/** Mass, mean and std of channel 1 along x and y. */
function moments(img: FloatImage): { mass: number; meanX: number; meanY: number; stdX: number; stdY: number } {
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const v = img.data[(y * img.width + x) * 3 + 1];
      mass += v;
      mx += x * v;
      my += y * v;
    }
  }
  mx /= mass;
  my /= mass;
  let vx = 0;
  let vy = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const v = img.data[(y * img.width + x) * 3 + 1];
      vx += (x - mx) ** 2 * v;
      vy += (y - my) ** 2 * v;
    }
  }
  return { mass, meanX: mx, meanY: my, stdX: Math.sqrt(vx / mass), stdY: Math.sqrt(vy / mass) };
}

describe('gaussianBlur', () => {
  it.each([0.6, 0.95, 1, 1.7, 3.2, 4.5])('spreads an impulse with std %f in x and y (within 1%; 2% below 1), keeping its mass and centre', (sigma) => {
    const img = impulse(81);
    gaussianBlur(img, sigma);
    const m = moments(img);
    expect(m.mass).toBeCloseTo(1000, 1);
    expect(m.meanX).toBeCloseTo(40, 3);
    expect(m.meanY).toBeCloseTo(40, 3);
    // The direct kernel below sigma 1 is truncated at 3 sigma and sampled; it is within 2%.
    const tolerance = sigma < 1 ? 0.02 : 0.01;
    expect(Math.abs(m.stdX / sigma - 1)).toBeLessThan(tolerance);
    expect(Math.abs(m.stdY / sigma - 1)).toBeLessThan(tolerance);
    // Other channels stay untouched.
    expect(img.data.filter((_, i) => i % 3 !== 1).every((v) => Math.abs(v) < 1e-9)).toBe(true);
  });

  it('leaves a constant image constant (clamped borders)', () => {
    for (const sigma of [0.5, 2.5]) {
      const img = { data: new Float32Array(20 * 13 * 3).fill(77), width: 20, height: 13 };
      gaussianBlur(img, sigma);
      expect(Math.max(...img.data.map((v) => Math.abs(v - 77)))).toBeLessThan(1e-3);
    }
  });
});

describe('upsampleBilinear', () => {
  it('keeps a constant picture constant and puts low-resolution pixel centres where they belong', () => {
    const flat = upsampleBilinear({ data: new Float32Array(20 * 17 * 3).fill(40), width: 20, height: 17 }, 112, 96, 5.6);
    expect(Math.max(...flat.data.map((v) => Math.abs(v - 40)))).toBeLessThan(1e-4);
    // A horizontal ramp at low resolution (value = low-res x) is a ramp of slope 1/f at full resolution,
    // equal to j at full-resolution x = (j + 0.5)·f − 0.5.
    const f = 4;
    const small = { data: new Float32Array(10 * 3 * 3), width: 10, height: 3 };
    for (let y = 0; y < 3; y++) for (let x = 0; x < 10; x++) small.data[(y * 10 + x) * 3] = x;
    const big = upsampleBilinear(small, 40, 12, f);
    for (let j = 1; j < 9; j++) {
      const x = (j + 0.5) * f - 0.5; // 1.5 + 4j: between two pixels
      const left = big.data[(5 * 40 + Math.floor(x)) * 3];
      const right = big.data[(5 * 40 + Math.ceil(x)) * 3];
      expect((left + right) / 2).toBeCloseTo(j, 5);
    }
  });
});

describe('addNoise', () => {
  it('adds zero-mean noise with the stated std per channel (luminance std and 0.35 of it per channel)', () => {
    const n = 200 * 200;
    const img = { data: new Float32Array(n * 3).fill(128), width: 200, height: 200 };
    addNoise(img, 20, Random.stream(3, 'noise-test'));
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let s2 = 0;
      for (let i = c; i < img.data.length; i += 3) {
        s += img.data[i] - 128;
        s2 += (img.data[i] - 128) ** 2;
      }
      const mean = s / n;
      const std = Math.sqrt(s2 / n - mean * mean);
      expect(Math.abs(mean)).toBeLessThan(0.3);
      expect(Math.abs(std / (20 * Math.hypot(1, 0.35)) - 1)).toBeLessThan(0.02);
    }
  });

  it('is reproducible from the stream and differs between streams', () => {
    const draw = (key: number) => {
      const img = { data: new Float32Array(30).fill(0), width: 10, height: 1 };
      addNoise(img, 5, Random.stream(1, 'n', key));
      return Array.from(img.data);
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
  });
});

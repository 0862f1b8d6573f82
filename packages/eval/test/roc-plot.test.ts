import { rocSvg, svgToPng } from '../src';

describe('ROC plot', () => {
  const series = [
    { label: 'a <b>', fpr: [0, 1e-5, 1e-3, 1], tpr: [0, 0.7, 0.9, 1], auc: 0.99 },
    { label: 'c', fpr: [0, 1e-4, 1], tpr: [0, 0.5, 1] },
  ];
  const svg = rocSvg(series, { title: 'ROC on IJBC' });

  it('draws one curve per method on a log FAR axis with a tick per decade, labels escaped', () => {
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    for (const e of [-6, -5, -4, -3, -2, -1, 0]) expect(svg).toContain(`>1e${e}<`);
    expect(svg).toContain('a &lt;b&gt; (AUC 99.00%)');
    // x grows with log10(FAR): the 1e-5 point sits left of the 1e-3 point.
    const pts = /points="([^"]+)"/.exec(svg)?.[1].split(' ').map((p) => Number(p.split(',')[0])) ?? [];
    expect(pts[1]).toBeLessThan(pts[2]);
  });

  it('renders to PNG', () => {
    const { png } = svgToPng(svg, 400);
    expect(Buffer.from(png.subarray(1, 4)).toString()).toBe('PNG');
    expect(new DataView(png.buffer, png.byteOffset).getUint32(16)).toBe(400); // IHDR width
  });
});

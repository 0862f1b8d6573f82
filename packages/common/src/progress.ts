/**
 * A progress line for long work: count, rate, ETA. Redraws in place on a TTY, prints a line every
 * few seconds otherwise (CI logs), and never more often than `minIntervalMs`.
 */
export interface ProgressOptions {
  label: string;
  total?: number;
  unit?: string;
  /** Extra rate in another unit, e.g. bytes -> MB/s. */
  secondary?: { unit: string; scale: number };
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  minIntervalMs?: number;
  silent?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export class Progress {
  private done = 0;
  private secondaryDone = 0;
  private readonly start = Date.now();
  private lastPrint = 0;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly interval: number;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.interval = opts.minIntervalMs ?? (this.stream.isTTY ? 200 : 5000);
  }

  /** Adds `n` finished units (and optionally `secondary` units, e.g. bytes). */
  tick(n = 1, secondary = 0): void {
    this.done += n;
    this.secondaryDone += secondary;
    const now = Date.now();
    if (now - this.lastPrint >= this.interval) {
      this.lastPrint = now;
      this.print(false);
    }
  }

  line(): string {
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const unit = this.opts.unit ?? 'items';
    const parts = [`${this.opts.label}: ${this.done}${this.opts.total !== undefined ? `/${this.opts.total}` : ''} ${unit}`, `${rate.toFixed(rate < 10 ? 2 : 0)} ${unit}/s`];
    if (this.opts.secondary && elapsed > 0) {
      parts.push(`${((this.secondaryDone * this.opts.secondary.scale) / elapsed).toFixed(1)} ${this.opts.secondary.unit}`);
    }
    if (this.opts.total !== undefined && rate > 0) parts.push(`ETA ${formatDuration((this.opts.total - this.done) / rate)}`);
    parts.push(`elapsed ${formatDuration(elapsed)}`);
    return parts.join(', ');
  }

  private print(final: boolean): void {
    if (this.opts.silent) return;
    if (this.stream.isTTY) this.stream.write(`\r${this.line()}\x1b[K${final ? '\n' : ''}`);
    else this.stream.write(this.line() + '\n');
  }

  /** Prints the final line. */
  finish(): void {
    this.print(true);
  }
}

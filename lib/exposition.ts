/** A small Prometheus registry: counters, callback gauges and histograms in text format 0.0.4. */

export type Labels = Readonly<Record<string, string>>;

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  value(labels?: Labels): number;
  /** Drops the series whose labels match: those of an object that is gone, which would stay for good. */
  drop(which: (labels: Labels) => boolean): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export interface Registry {
  counter(name: string, help: string): Counter;
  /** A gauge read when scraped. */
  gauge(name: string, help: string, collect: () => Iterable<readonly [Labels, number]>): void;
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  render(): string;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Render = () => string[];

interface Series<T> {
  labels: Labels;
  value: T;
}

/**
 * A label set's series key: its pairs in name order. Plain code-unit order (no collation: a
 * counter is bumped for every watch event, and localeCompare cost more than the rest of it).
 */
function keyOf(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  return JSON.stringify(names.map((name) => [name, labels[name]]));
}

export const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (help: string): string => help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

function seriesOf<T>(map: Map<string, Series<T>>, labels: Labels, initial: () => T): Series<T> {
  const key = keyOf(labels);
  let series = map.get(key);
  if (!series) {
    series = { labels, value: initial() };
    map.set(key, series);
  }
  return series;
}

export function createRegistry(): Registry {
  const families: Render[] = [];
  const header = (name: string, help: string, type: string): string[] => [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];

  return {
    counter(name, help) {
      const series = new Map<string, Series<number>>();
      families.push(() => [...header(name, help, 'counter'), ...[...series.values()].map((s) => sample(name, s.labels, s.value))]);
      return {
        inc: (labels = {}, by = 1) => void (seriesOf(series, labels, () => 0).value += by),
        value: (labels = {}) => series.get(keyOf(labels))?.value ?? 0,
        drop(which) {
          for (const [key, s] of series) if (which(s.labels)) series.delete(key);
        },
      };
    },
    gauge(name, help, collect) {
      families.push(() => [...header(name, help, 'gauge'), ...[...collect()].map(([labels, value]) => sample(name, labels, value))]);
    },
    histogram(name, help, buckets) {
      const bounds = [...buckets].sort((a, b) => a - b);
      const series = new Map<string, Series<{ counts: number[]; sum: number; count: number }>>();
      families.push(() => [...header(name, help, 'histogram'), ...[...series.values()].flatMap((s) => histogramLines(name, bounds, s))]);
      return {
        observe(labels, value) {
          const s = seriesOf(series, labels, () => ({ counts: bounds.map(() => 0), sum: 0, count: 0 })).value;
          bounds.forEach((bound, i) => {
            if (value <= bound) s.counts[i] = (s.counts[i] ?? 0) + 1;
          });
          s.sum += value;
          s.count++;
        },
      };
    },
    render: () => `${families.flatMap((render) => render()).join('\n')}\n`,
  };
}

function histogramLines(name: string, bounds: readonly number[], s: Series<{ counts: number[]; sum: number; count: number }>): string[] {
  return [
    ...bounds.map((bound, i) => sample(`${name}_bucket`, { ...s.labels, le: formatValue(bound) }, s.value.counts[i] ?? 0)),
    sample(`${name}_bucket`, { ...s.labels, le: '+Inf' }, s.value.count),
    sample(`${name}_sum`, s.labels, s.value.sum),
    sample(`${name}_count`, s.labels, s.value.count),
  ];
}

/** The last `capacity` samples, for exact quantiles in tests and benchmarks. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(capacity = 10_000) {
    this.samples = new Float64Array(capacity);
  }

  add(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    this.filled = Math.min(this.filled + 1, this.samples.length);
  }

  count(): number {
    return this.filled;
  }

  /** Nearest-rank quantile; NaN when empty. */
  quantile(q: number): number {
    if (this.filled === 0) return NaN;
    const sorted = this.samples.slice(0, this.filled).sort();
    return sorted[Math.min(this.filled - 1, Math.max(0, Math.ceil(q * this.filled) - 1))] ?? NaN;
  }

  reset(): void {
    this.next = 0;
    this.filled = 0;
  }
}

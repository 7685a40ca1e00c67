/** The bench's targets (issue 14) and how its figures are printed: figures, never assertions. */

export interface TargetCheck {
  scenario: string;
  figure: string;
  value: number;
  /** e.g. `≤ 8`, `≥ 0.5` */
  target: string;
  met: boolean;
}

export interface Targets {
  /** Records a figure against its bound; answers `met` or `MISSED` for printing. */
  check(scenario: string, figure: string, value: number, op: '<=' | '>=', bound: number, unit?: string): string;
  all(): TargetCheck[];
}

export function targets(): Targets {
  const checks: TargetCheck[] = [];
  return {
    check(scenario, figure, value, op, bound, unit = '') {
      const met = Number.isFinite(value) && (op === '<=' ? value <= bound : value >= bound);
      checks.push({ scenario, figure, value, target: `${op === '<=' ? '≤' : '≥'} ${bound}${unit}`, met });
      return met ? 'met' : 'MISSED';
    },
    all: () => checks,
  };
}

/** Rows of cells as aligned columns (the first row is the header). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

/** A figure with sensible precision. */
export const fig = (n: number | undefined, digits = 1): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));

/**
 * Numbers a page quotes from the code (a cache's size, a delay): each claim is a pattern over
 * the page's text (whitespace flattened) and, for each quantity it captures, the unit the page
 * writes it in and the code's value.
 */
export interface Quoted {
  claim: RegExp;
  values: readonly { unit: number; code: number }[];
}

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const MIB = 1024 * 1024;
/** A captured quantity in a claim's pattern. */
export const Q = '(\\S+)';

const WORDS: Record<string, number> = { a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10 };

/** A quantity as a page writes it: `a`, `five`, `30`, `500,000`. */
export function quantity(text: string): number {
  const word = WORDS[text.toLowerCase()];
  if (word !== undefined) return word;
  return /^\d{1,3}(?:,\d{3})*$|^\d+$/.test(text) ? Number(text.replace(/,/g, '')) : NaN;
}

/** What the flattened page `flat` says wrong of `quoted`: a claim gone, or a quantity not the code's. */
export function misquoted(quoted: readonly Quoted[], flat: string): string[] {
  return quoted.flatMap(({ claim, values }) => {
    const m = claim.exec(flat);
    if (!m) return [`not found: ${claim.source}`];
    return values.flatMap(({ unit, code }, i) => {
      const said = quantity(m[i + 1] ?? '') * unit;
      return said === code ? [] : [`"${m[0]}": quantity ${i + 1} is ${said}, the code says ${code}`];
    });
  });
}

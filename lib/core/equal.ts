/** JSON with object keys sorted, so objects from the API server (sorted keys) compare to ours. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

export const deepEqualJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/**
 * Label selectors as the API server reads them: equality-based (`k=v`, `k==v`, `k!=v`, `k`,
 * `!k`) and set-based (`k in (a,b)`, `k notin (a,b)`), comma-separated, all must match.
 */
export interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | 'notexists';
  values: string[];
}

export type SelectorResult = { ok: true; requirements: Requirement[] } | { ok: false; message: string };

const KEY = '[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?';
const VALUE = '(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`);
const EXISTS = new RegExp(`^(${KEY})$`);
const NOT_EXISTS = new RegExp(`^!\\s*(${KEY})$`);
const VALUE_ONLY = new RegExp(`^${VALUE}$`);

/** Splits on the commas that are not inside a `( … )` value list. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

function parseTerm(term: string): Requirement | undefined {
  const eq = EQUALITY.exec(term);
  if (eq?.[1] !== undefined && eq[3] !== undefined) return { key: eq[1], op: eq[2] === '!=' ? 'notin' : 'in', values: [eq[3]] };
  const set = SET.exec(term);
  if (set?.[1] !== undefined && set[3] !== undefined) {
    const values = set[3].split(',').map((v) => v.trim());
    if (!values.every((v) => VALUE_ONLY.test(v))) return undefined;
    return { key: set[1], op: set[2] === 'notin' ? 'notin' : 'in', values };
  }
  const exists = EXISTS.exec(term);
  if (exists?.[1] !== undefined) return { key: exists[1], op: 'exists', values: [] };
  const absent = NOT_EXISTS.exec(term);
  if (absent?.[1] !== undefined) return { key: absent[1], op: 'notexists', values: [] };
  return undefined;
}

export function parseSelector(text: string): SelectorResult {
  if (text.trim() === '') return { ok: true, requirements: [] };
  const requirements: Requirement[] = [];
  for (const term of terms(text)) {
    const req = parseTerm(term);
    if (!req) return { ok: false, message: `unable to parse requirement ${JSON.stringify(term)} in label selector ${JSON.stringify(text)}` };
    requirements.push(req);
  }
  return { ok: true, requirements };
}

/** `!=` and `notin` also match objects that lack the label, as in Kubernetes. */
export function matchesSelector(requirements: readonly Requirement[], labels: Readonly<Record<string, string>> = {}): boolean {
  return requirements.every((r) => {
    const value = Object.hasOwn(labels, r.key) ? labels[r.key] : undefined;
    switch (r.op) {
      case 'exists': return value !== undefined;
      case 'notexists': return value === undefined;
      case 'in': return value !== undefined && r.values.includes(value);
      case 'notin': return value === undefined || !r.values.includes(value);
    }
  });
}

/** One term of a field selector: the field's value (absent: empty) equals, or does not equal, `value`. */
export interface FieldRequirement {
  path: string;
  equal: boolean;
  value: string;
}

export type FieldSelectorResult = { ok: true; requirements: FieldRequirement[] } | { ok: false; message: string };

const FIELD_TERM = /^([A-Za-z][A-Za-z0-9.]*)\s*(==|=|!=)\s*([^,=!]*)$/;

/**
 * Field selectors as the API server reads them: `field=value`, `field==value` or
 * `field!=value`, comma-separated, all must hold, on `metadata.name`, `metadata.namespace`
 * and the fields the kind makes selectable (others are refused, as the API server does).
 */
export function parseFieldSelector(text: string, selectable: readonly string[]): FieldSelectorResult {
  if (text.trim() === '') return { ok: true, requirements: [] };
  const requirements: FieldRequirement[] = [];
  for (const term of text.split(',').map((t) => t.trim())) {
    const m = FIELD_TERM.exec(term);
    if (m?.[1] === undefined || m[3] === undefined) return { ok: false, message: `invalid selector: ${JSON.stringify(text)}` };
    if (!['metadata.name', 'metadata.namespace', ...selectable].includes(m[1])) return { ok: false, message: `field label not supported: ${m[1]}` };
    requirements.push({ path: m[1], equal: m[2] !== '!=', value: m[3].trim() });
  }
  return { ok: true, requirements };
}

export function matchesFields(requirements: readonly FieldRequirement[], obj: unknown): boolean {
  return requirements.every((r) => (fieldValue(obj, r.path) === r.value) === r.equal);
}

/** A string (or number, boolean) at a dotted path; anything else, or nothing, is empty. */
function fieldValue(obj: unknown, path: string): string {
  let at: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null) return '';
    at = Object.hasOwn(at, part) ? Reflect.get(at, part) : undefined;
  }
  return typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? String(at) : '';
}

import type { Family } from './addresses.js';
import { actionParameters, compileAction, type Action } from './actions.js';
import type { MatchFn, Table } from './flow.js';
import { compileMatcher, type CompileContext } from './matchers.js';
import type { RouterEntry, RouterState } from '../../lib/router/state.js';
import { parseBoolean, parseNth, type Nth } from './values.js';

/** Properties RouterOS prints that neither match nor act. */
const INERT = ['.id', '.nextid', '.about', 'chain', 'action', 'comment', 'disabled', 'dynamic', 'invalid', 'bytes', 'packets', 'log', 'log-prefix'];

export const TABLES: readonly Table[] = ['raw', 'mangle', 'nat', 'filter'];

/** Why the tracer cannot evaluate a rule: names the rule and the field. */
export interface RuleProblem {
  rule: string;
  field: string;
  message: string;
}

export type Compiled = { ok: true; matchers: MatchFn[]; nth: Nth | undefined; action: Action } | ({ ok: false } & RuleProblem);

export interface Rule {
  /** `nat/dstnat#3`: table, chain and position in the menu (0-based, as `print` numbers it). */
  ref: string;
  /** Identifies the rule's nth counter. */
  key: string;
  table: Table;
  chain: string;
  compiled: Compiled;
}

export interface RuleSet {
  chain(table: Table, chain: string): readonly Rule[];
  problems: readonly RuleProblem[];
}

export function firewallMenu(family: Family, table: Table | 'address-list'): string {
  return `${family === 'IPv4' ? '/ip' : '/ipv6'}/firewall/${table}`;
}

function isActive(entry: RouterEntry): boolean {
  const disabled = parseBoolean(entry.disabled, false);
  const invalid = parseBoolean(entry.invalid, false);
  // RouterOS does not apply invalid rules either; an unreadable flag is reported by the compiler.
  return !(disabled.ok && disabled.value) && !(invalid.ok && invalid.value);
}

function compileRule(table: Table, entry: RouterEntry, ref: string, ctx: CompileContext): Compiled {
  const problem = (field: string, message: string): Compiled => ({ ok: false, rule: ref, field, message });
  const action = compileAction(table, entry, ctx.family);
  if (!action.ok) return problem(action.field, action.message);
  const ignored = new Set([...INERT, ...actionParameters(ctx.family)]);
  const matchers: MatchFn[] = [];
  let nth: Nth | undefined;
  for (const [field, value] of Object.entries(entry)) {
    if (ignored.has(field)) continue;
    if (field === 'nth') {
      const parsed = parseNth(value);
      if (!parsed.ok) return problem(field, parsed.message);
      nth = parsed.value;
      continue;
    }
    const matcher = compileMatcher(field, value, ctx);
    if (!matcher.ok) return problem(field, matcher.message);
    matchers.push(matcher.value);
  }
  for (const flag of ['disabled', 'invalid']) {
    const parsed = parseBoolean(entry[flag], false);
    if (!parsed.ok) return problem(flag, parsed.message);
  }
  return { ok: true, matchers, nth, action: action.value };
}

/** Compiles the raw, mangle, nat and filter menus of one family, in menu order. */
export function compileRules(state: RouterState, ctx: CompileContext): RuleSet {
  const chains = new Map<string, Rule[]>();
  const problems: RuleProblem[] = [];
  for (const table of TABLES) {
    const menu = firewallMenu(ctx.family, table);
    (state.menus[menu] ?? []).forEach((entry, index) => {
      if (!isActive(entry)) return;
      const chain = entry.chain ?? '';
      const ref = `${ctx.family === 'IPv6' ? 'ipv6 ' : ''}${table}/${chain}#${index}`;
      const compiled: Compiled = chain
        ? compileRule(table, entry, ref, ctx)
        : { ok: false, rule: ref, field: 'chain', message: 'the rule has no chain' };
      if (!compiled.ok) problems.push({ rule: compiled.rule, field: compiled.field, message: compiled.message });
      const key = `${table}/${chain}`;
      chains.set(key, [...(chains.get(key) ?? []), { ref, key: `${menu}#${index}`, table, chain, compiled }]);
    });
  }
  return { chain: (table, chain) => chains.get(`${table}/${chain}`) ?? [], problems };
}

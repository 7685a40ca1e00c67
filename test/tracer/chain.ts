import { applyAction } from './apply.js';
import type { Env, Flow, Table } from './flow.js';
import type { Rule, RuleProblem, RuleSet } from './rules.js';

/** One rule that matched, and what its action did. */
export interface Hit {
  rule: string;
  detail: string;
}

/** How a table's built-in chain ended for the connection. */
export type ChainEnd =
  | { kind: 'continue' }
  | { kind: 'verdict'; verdict: 'drop' | 'reject'; rejectWith: string | undefined; chain: string }
  | ({ kind: 'error' } & RuleProblem);

type Walk = ChainEnd | { kind: 'end' };

/** RouterOS refuses jump loops when rules are added; the tracer guards against them anyway. */
const MAX_JUMP_DEPTH = 32;

/**
 * A rule matches when all its matchers do; an `nth` matcher then counts the packet (the
 * counter only sees packets that reached the rule and passed its other matchers) and matches
 * the `packet`-th of every `every` packets.
 */
function matches(rule: Rule, flow: Flow, env: Env): boolean {
  if (!rule.compiled.ok) return false;
  const { matchers, nth } = rule.compiled;
  if (!matchers.every((match) => match(flow, env))) return false;
  if (!nth) return true;
  const count = env.countNth(rule.key);
  return ((count - 1) % nth.every) + 1 === nth.packet;
}

function walk(rules: RuleSet, table: Table, chain: string, flow: Flow, env: Env, hits: Hit[], depth: number): Walk {
  for (const rule of rules.chain(table, chain)) {
    if (!rule.compiled.ok) {
      const { rule: ref, field, message } = rule.compiled;
      return { kind: 'error', rule: ref, field, message };
    }
    if (!matches(rule, flow, env)) continue;
    const { step, detail } = applyAction(rule.compiled.action, flow, env);
    hits.push({ rule: rule.ref, detail });
    switch (step.kind) {
      case 'next':
        continue;
      case 'stop':
        return { kind: 'continue' };
      case 'return':
        return { kind: 'end' };
      case 'verdict':
        return { kind: 'verdict', verdict: step.verdict, rejectWith: step.rejectWith, chain: `${table}/${chain}` };
      case 'error':
        return { kind: 'error', rule: rule.ref, field: 'action', message: step.message };
      case 'jump': {
        if (depth >= MAX_JUMP_DEPTH) {
          return { kind: 'error', rule: rule.ref, field: 'jump-target', message: `jumps nest deeper than ${MAX_JUMP_DEPTH} chains (a loop?)` };
        }
        const inner = walk(rules, table, step.target, flow, env, hits, depth + 1);
        if (inner.kind !== 'end') return inner;
      }
    }
  }
  return { kind: 'end' };
}

/**
 * Runs a table's built-in chain. Falling off the end (or `return` from it) applies the chain's
 * policy, which is accept; an accepting action ends this table only, and the packet moves on.
 */
export function runChain(rules: RuleSet, table: Table, chain: string, flow: Flow, env: Env, hits: Hit[]): ChainEnd {
  const end = walk(rules, table, chain, flow, env, hits, 0);
  return end.kind === 'end' ? { kind: 'continue' } : end;
}

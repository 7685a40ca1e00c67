import { formatAddress, type Family } from './addresses.js';
import { runChain, type Hit } from './chain.js';
import { parseConnection, type Connection } from './connection.js';
import type { Flow, Hook, Table } from './flow.js';
import { createRouterView, type RouterView } from './router.js';
import { compileRules, type RuleProblem, type RuleSet } from './rules.js';
import type { RouterState } from '../../lib/router/state.js';
import { protocolName } from './values.js';

/** Which way the routing decision sent the connection: to the router, through it, or from it. */
export type Delivery = 'input' | 'forward' | 'output';

export interface TraceResult {
  ok: true;
  verdict: 'accept' | 'drop' | 'reject';
  rejectWith?: string;
  /** Absent when the connection was dropped before the routing decision. */
  delivery?: Delivery;
  /** `table/chain` where processing ended: the deciding chain for drop/reject, else the last one run. */
  chain: string;
  family: Family;
  protocol: string;
  /** Addresses and ports as the connection leaves the last chain (after dst-nat and src-nat). */
  srcAddress: string;
  srcPort?: number;
  dstAddress: string;
  dstPort?: number;
  inInterface?: string;
  outInterface?: string;
  connectionMark?: string;
  packetMark?: string;
  routingMark?: string;
  natState: { dstnat: boolean; srcnat: boolean };
  /** Rules whose action ran, in order: `nat/dstnat#3 dst-nat to 10.0.0.5:8080`. */
  path: string[];
  hits: Hit[];
}

export interface TraceFailure {
  ok: false;
  /** `InvalidConnection`: the traced connection itself; `UnsupportedRule`: a reached rule the tracer cannot evaluate. */
  reason: 'InvalidConnection' | 'UnsupportedRule';
  message: string;
  rule?: string;
  field?: string;
  path: string[];
}

export interface Tracer {
  /** Follows one NEW connection through the firewall; nth counters advance across calls. */
  trace(connection: Connection): TraceResult | TraceFailure;
  /** Every active rule, in either family, that the tracer cannot evaluate (whether reached or not). */
  readonly problems: readonly RuleProblem[];
  /** Resets nth counters and addresses that rules added to address lists. */
  reset(): void;
}

type Stage = readonly [Table, string, Hook];

const PREROUTING: readonly Stage[] = [['raw', 'prerouting', 'prerouting'], ['mangle', 'prerouting', 'prerouting'], ['nat', 'dstnat', 'prerouting']];
const INPUT: readonly Stage[] = [['mangle', 'input', 'input'], ['filter', 'input', 'input']];
const FORWARD: readonly Stage[] = [['mangle', 'forward', 'forward'], ['filter', 'forward', 'forward']];
const OUTPUT: readonly Stage[] = [['raw', 'output', 'output'], ['mangle', 'output', 'output'], ['filter', 'output', 'output']];
const POSTROUTING: readonly Stage[] = [['mangle', 'postrouting', 'postrouting'], ['nat', 'srcnat', 'postrouting']];

type Outcome = { kind: 'passed'; chain: string } | { kind: 'ended'; result: TraceResult | TraceFailure };

function result(flow: Flow, delivery: Delivery | undefined, chain: string, hits: Hit[], verdict: TraceResult['verdict'], rejectWith?: string): TraceResult {
  return {
    ok: true,
    verdict,
    ...(rejectWith === undefined ? {} : { rejectWith }),
    ...(delivery === undefined ? {} : { delivery }),
    chain,
    family: flow.family,
    protocol: protocolName(flow.protocol),
    srcAddress: formatAddress(flow.family, flow.src),
    ...(flow.srcPort === undefined ? {} : { srcPort: flow.srcPort }),
    dstAddress: formatAddress(flow.family, flow.dst),
    ...(flow.dstPort === undefined ? {} : { dstPort: flow.dstPort }),
    ...(flow.inInterface === undefined ? {} : { inInterface: flow.inInterface }),
    ...(flow.outInterface === undefined ? {} : { outInterface: flow.outInterface }),
    ...(flow.connectionMark === undefined ? {} : { connectionMark: flow.connectionMark }),
    ...(flow.packetMark === undefined ? {} : { packetMark: flow.packetMark }),
    ...(flow.routingMark === undefined ? {} : { routingMark: flow.routingMark }),
    natState: { ...flow.natState },
    path: hits.map((hit) => `${hit.rule} ${hit.detail}`),
    hits,
  };
}

function runStages(stages: readonly Stage[], rules: RuleSet, view: RouterView, flow: Flow, delivery: Delivery | undefined, hits: Hit[]): Outcome {
  let last = '';
  for (const [table, chain, hook] of stages) {
    flow.hook = hook;
    last = `${table}/${chain}`;
    const end = runChain(rules, table, chain, flow, view.env, hits);
    if (end.kind === 'verdict') return { kind: 'ended', result: result(flow, delivery, end.chain, hits, end.verdict, end.rejectWith) };
    if (end.kind === 'error') {
      const path = hits.map((hit) => `${hit.rule} ${hit.detail}`);
      const message = `${end.rule}: cannot evaluate '${end.field}': ${end.message}`;
      return { kind: 'ended', result: { ok: false, reason: 'UnsupportedRule', message, rule: end.rule, field: end.field, path } };
    }
  }
  return { kind: 'passed', chain: last };
}

/** The packet flow of a new connection through RouterOS v7's firewall, with its routing decision. */
function follow(rules: RuleSet, view: RouterView, flow: Flow, outInterface: string | undefined): TraceResult | TraceFailure {
  const hits: Hit[] = [];
  const finish = (delivery: Delivery, stages: readonly Stage[]): TraceResult | TraceFailure => {
    flow.outInterface = delivery === 'input' ? undefined : (outInterface ?? view.outInterface(flow.family, flow.dst));
    const outcome = runStages(stages, rules, view, flow, delivery, hits);
    return outcome.kind === 'ended' ? outcome.result : result(flow, delivery, outcome.chain, hits, 'accept');
  };
  if (flow.hook === 'output') return finish('output', [...OUTPUT, ...POSTROUTING]);
  const pre = runStages(PREROUTING, rules, view, flow, undefined, hits);
  if (pre.kind === 'ended') return pre.result;
  // The routing decision sees the destination after dst-nat.
  if (view.env.isLocalAddress(flow.family, flow.dst)) return finish('input', INPUT);
  return finish('forward', [...FORWARD, ...POSTROUTING]);
}

/** Builds a tracer over a router's firewall configuration (IPv4 and IPv6; the family follows the addresses). */
export function createTracer(state: RouterState): Tracer {
  const view = createRouterView(state);
  const compile = (family: Family): RuleSet =>
    compileRules(state, { family, listProblem: (list) => view.listProblem(family, list) });
  const ruleSets: Record<Family, RuleSet> = { IPv4: compile('IPv4'), IPv6: compile('IPv6') };
  return {
    problems: [...ruleSets.IPv4.problems, ...ruleSets.IPv6.problems],
    reset: () => view.reset(),
    trace: (input) => {
      const parsed = parseConnection(input);
      if (!parsed.ok) return { ok: false, reason: 'InvalidConnection', message: parsed.message, path: [] };
      const { connection, flow } = parsed.value;
      return follow(ruleSets[flow.family], view, flow, connection.outInterface);
    },
  };
}

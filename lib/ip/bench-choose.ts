/**
 * Benchmark (a script, not a test): time to choose an address in the pools where a naive
 * allocator would enumerate. Run with `npx tsx lib/ip/bench-choose.ts`.
 * Each figure is the median of several runs of one `choose` call, including the sort of
 * the taken addresses that every call does.
 */
import { parseAddress } from './address.js';
import { choose, startFor } from './choose.js';
import { parsePoolAddresses } from './parse.js';
import type { AddressSet } from './set.js';

const RUNS = 25;

interface Scenario {
  readonly name: string;
  readonly pool: AddressSet;
  readonly taken: readonly bigint[];
  readonly start: bigint;
}

function addr(text: string): bigint {
  const parsed = parseAddress(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

function pool(entries: string[], avoidBuggyIPs: boolean): AddressSet {
  const family = entries.some((e) => e.includes(':')) ? 'IPv6' : 'IPv4';
  const result = parsePoolAddresses(family, entries, avoidBuggyIPs);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.set;
}

function ipv6Run(): Scenario {
  const set = pool(['2001:db8::/64'], true);
  const start = startFor('bench', set) ?? 0n;
  const taken = Array.from({ length: 10_000 }, (_, i) => start + BigInt(i));
  return { name: 'IPv6 /64, 10,000 taken in one run from the start', pool: set, taken, start };
}

function ipv6Scattered(): Scenario {
  const set = pool(['2001:db8::/64'], true);
  const taken = Array.from({ length: 10_000 }, (_, i) => startFor(`taken-${i}`, set) ?? 0n);
  return { name: 'IPv6 /64, 10,000 taken scattered by hash', pool: set, taken, start: taken[0] ?? 0n };
}

function ipv4AllButOne(): Scenario {
  const set = pool(['10.2.0.1-10.2.255.254'], false);
  const free = addr('10.2.0.7');
  const taken: bigint[] = [];
  for (let a = addr('10.2.0.1'); a <= addr('10.2.255.254'); a++) if (a !== free) taken.push(a);
  // Starting just after the free address forces a walk over every taken one, then a wrap.
  return { name: 'IPv4 /16, 65,533 taken, one free', pool: set, taken, start: free + 1n };
}

function ipv4BuggyAllButOne(): Scenario {
  const set = pool(['10.3.0.0/16'], true);
  const free = addr('10.3.0.7');
  const taken: bigint[] = [];
  for (const r of set.ranges) for (let a = r.start; a <= r.end; a++) if (a !== free) taken.push(a);
  return { name: 'IPv4 /16 avoidBuggyIPs, 65,023 taken, one free', pool: set, taken, start: free + 1n };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function measure(scenario: Scenario): void {
  const times: number[] = [];
  let chosen: bigint | undefined;
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    chosen = choose(scenario.pool, scenario.taken, scenario.start);
    times.push(performance.now() - started);
  }
  if (chosen === undefined) throw new Error(`${scenario.name}: nothing chosen`);
  console.log(`${scenario.name}: median ${median(times).toFixed(2)} ms over ${RUNS} runs`);
}

for (const build of [ipv6Run, ipv6Scattered, ipv4AllButOne, ipv4BuggyAllButOne]) measure(build());

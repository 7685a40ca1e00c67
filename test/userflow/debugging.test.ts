import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cleanEnv, REPO_ROOT } from '../image/workspace.js';
import { eventually, leftovers, parseTable, startLocalStack, type LocalStack } from './stack.js';

// docs/debugging.md, followed as a user would on the local stack (`npm start`): create
// pools and Services that hit every allocation failure reason and the happy path, then read
// what the doc says to read (kubectl get / describe / label selectors / ippools / logs) and
// compare it with the doc's own tables, messages and examples.

const SETTLE_MS = 180_000;

// ---- what the doc says ----

const doc = await readFile(join(REPO_ROOT, 'docs', 'debugging.md'), 'utf8');
const servicesDoc = await readFile(join(REPO_ROOT, 'docs', 'services.md'), 'utf8');

/** The section of a markdown document from `heading` to the next heading of that level. */
function section(text: string, heading: string): string {
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`the doc has no heading ${heading}`);
  const level = /^#+/.exec(heading)?.[0] ?? '#';
  const rest = text.slice(at + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The first fenced code block after `marker`. */
function codeBlockAfter(text: string, marker: string): string {
  const at = text.indexOf(marker);
  const m = /```\w*\n([\s\S]*?)```/.exec(text.slice(at));
  if (at < 0 || !m?.[1]) throw new Error(`the doc has no code block after ${marker}`);
  return m[1];
}

/** The message sentence documented for an allocation failure reason (`### \`Reason\``). */
function documentedMessage(reason: string): string {
  const m = /`([^`\n]+\.)`/.exec(section(doc, `### \`${reason}\``));
  if (!m?.[1]) throw new Error(`docs/debugging.md documents no message for ${reason}`);
  return m[1];
}

/** The doc's example with its example values replaced by ours (each must occur in it). */
function fill(example: string, values: readonly (readonly [string, string])[]): string {
  let out = example;
  for (const [from, to] of values) {
    if (!out.includes(from)) throw new Error(`the documented example "${example}" no longer contains ${from}`);
    out = out.split(from).join(to);
  }
  return out;
}

/** docs/debugging.md's status table: situation → the cells with backticks removed. */
const statusTable = new Map(
  section(doc, '## 2. Read the status').split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| situation') && !l.startsWith('| ---'))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim().replace(/`/g, '')))
    .map((cells): [string, string[]] => [cells[0] ?? '', cells.slice(1)]),
);
/** The `kubectl get ipallocations` example of step 1. */
const exampleGet = parseTable(codeBlockAfter(doc, '## 1. Look at the allocations').split('\n').slice(1).join('\n'));
const exampleDescribe = codeBlockAfter(doc, 'shows the three conditions');

// ---- what the cluster says ----

const Condition = z.object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() });
const Allocation = z.object({
  metadata: z.object({ name: z.string(), labels: z.record(z.string(), z.string()).optional() }),
  status: z.object({ phase: z.string().optional(), address: z.string().optional(), conditions: z.array(Condition).optional() }).optional(),
});
type Allocation = z.infer<typeof Allocation>;
const Items = z.object({ items: z.array(Allocation) });
const ServiceStatus = z.object({ status: z.object({ conditions: z.array(Condition).optional() }).optional() });
const LogLine = z.object({ time: z.string(), level: z.string(), msg: z.string() }).catchall(z.unknown());
type LogLine = z.infer<typeof LogLine>;

/** One Service's (or hand-written) allocation we expect, and how it must end up. */
interface Case { reason: string; phase: string; ready: string; service?: string; name?: string; message: (holder: string) => string }

const HAPPY = 'AllocatedAndProgrammed';
const CASES: readonly Case[] = [
  { reason: 'AddressInvalid', phase: 'Failed', ready: 'False', name: 'hand-written', message: () => fill(documentedMessage('AddressInvalid'), [['192.0.2.300', '10.0.0.300']]) },
  { reason: 'AddressAlreadyUsed', phase: 'Failed', ready: 'False', service: 'dup-b',
    message: (holder) => fill(documentedMessage('AddressAlreadyUsed'), [['192.0.2.7', '198.51.100.150'], ['public-v4', 'local-v4'], ['reserved-vip', holder]]) },
  { reason: 'AddressNotInPool', phase: 'Failed', ready: 'False', service: 'outside', message: () => fill(documentedMessage('AddressNotInPool'), [['198.51.100.1', '203.0.113.7']]) },
  { reason: 'PoolNotFound', phase: 'Failed', ready: 'False', service: 'nopool', message: () => fill(documentedMessage('PoolNotFound'), [['archive', 'nope']]) },
  { reason: 'PoolIPFamilyMismatch', phase: 'Failed', ready: 'False', service: 'v4-only',
    message: () => fill(documentedMessage('PoolIPFamilyMismatch'), [['public-v6', 'local-v6'], ['shop/web', 'default/v4-only']]) },
  // The doc's example pool is called `single`, like ours.
  { reason: 'PoolExhausted', phase: 'Failed', ready: 'False', service: 'ex-b', message: () => documentedMessage('PoolExhausted') },
];

const svc = (name: string, annotations: Record<string, string>, spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', annotations },
  spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec },
});
const FIRST = [
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'single' }, spec: { ipFamily: 'IPv4', addresses: ['198.51.100.50'], autoAssign: false } },
  { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'hand-written' }, spec: { address: '10.0.0.300' } },
  svc('dup-a', { 'mikrolb.de/load-balancer-ips': '198.51.100.150' }),
  svc('outside', { 'mikrolb.de/load-balancer-ips': '203.0.113.7' }),
  svc('nopool', { 'mikrolb.de/load-balancer-pools': 'nope' }),
  svc('v4-only', { 'mikrolb.de/load-balancer-pools': 'local-v6' }, { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] }),
  svc('ex-a', { 'mikrolb.de/load-balancer-pools': 'single' }),
  // services.md's example of an invalid value: the bad entry is dropped, the good one served.
  svc('typo', { 'mikrolb.de/load-balancer-ips': '198.51.100.160, not-an-ip' }),
  svc('foreign', {}, { loadBalancerClass: 'example.com/other' }),
];
/** Applied once dup-a and ex-a hold their addresses, so the losers are known. */
// web is auto-assigned from local-v4 only after dup-a and typo hold their explicit addresses,
// so it can never take one of them first (its start in the pool comes from a hash of its uid).
const SECOND = [
  svc('web', {}),
  svc('dup-b', { 'mikrolb.de/load-balancer-ips': '198.51.100.150' }),
  svc('ex-b', { 'mikrolb.de/load-balancer-pools': 'single' }),
];

const yamlStream = (objects: readonly Record<string, unknown>[]): string => objects.map((o) => JSON.stringify(o)).join('\n---\n');
const condition = (a: Allocation | undefined, type: string) => a?.status?.conditions?.find((c) => c.type === type);

let stack: LocalStack;
let allocations: Allocation[] = [];
const byService = (service: string): Allocation[] => allocations.filter((a) => a.metadata.labels?.['mikrolb.de/service-name'] === service);
const one = (service: string): Allocation => {
  const found = byService(service);
  if (found.length !== 1 || !found[0]) throw new Error(`expected one allocation of Service ${service}, found ${found.length}`);
  return found[0];
};
const nameOf = (c: Case): string => c.name ?? one(c.service ?? '').metadata.name;

async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const r = await stack.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function readAllocations(): Promise<Allocation[]> {
  return Items.parse(JSON.parse(await kubectlOk(['get', 'ipallocations.mikrolb.de', '-o', 'json']))).items;
}

function logLines(): LogLine[] {
  return stack.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => LogLine.parse(JSON.parse(l)));
}

/**
 * What every section of the doc reads: the pools and Services that hit each failure reason and
 * the happy path, applied in two steps and settled (each test reads it; none makes it).
 */
async function applyAndSettle(): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], yamlStream(FIRST));
  await eventually(async () => {
    allocations = await readAllocations();
    for (const s of ['dup-a', 'ex-a']) expect(one(s).status?.phase).toBe('Programmed');
  }, SETTLE_MS);
  await kubectlOk(['apply', '-f', '-'], yamlStream(SECOND));
  await eventually(async () => {
    allocations = await readAllocations();
    for (const c of CASES) expect(condition(allocations.find((a) => a.metadata.name === nameOf(c)), 'Ready')?.reason, nameOf(c)).toBe(c.reason);
    for (const s of ['web', 'dup-a', 'ex-a', 'typo']) expect(condition(one(s), 'Ready')?.reason, s).toBe(HAPPY);
  }, SETTLE_MS);
}

beforeAll(async () => {
  stack = await startLocalStack(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'local-stack', 'start.ts')], {
    cwd: REPO_ROOT, env: cleanEnv(), readyTimeoutMs: 300_000,
  });
  await applyAndSettle();
}, 320_000 + SETTLE_MS * 2);

afterAll(async () => {
  await stack?.dispose();
}, 180_000);

describe('docs/debugging.md on the local stack (npm start), with the harness kubectl', () => {
  it('prints the cluster, the router and a kubectl to use, and runs the cluster in a temporary folder', () => {
    expect(stack.banner.kubeconfig).toMatch(/mikrolb-cluster-[^/]+\/kubeconfig$/);
    expect(stack.banner.routerosUrl).toMatch(/^api:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.banner.routerosUsername).toBe('mikrolb');
    expect(stack.banner.routerosPassword).not.toBe('');
    expect(stack.clusterPids).toHaveLength(2);
  });

  it('kubectl get ipallocations.mikrolb.de shows every failure reason and the happy path as documented', async () => {
    const table = parseTable(await kubectlOk(['get', 'ipallocations.mikrolb.de']));
    expect(table.headers).toEqual(exampleGet.headers);
    const row = (name: string): Record<string, string> | undefined => table.rows.find((r) => r.NAME === name);
    const holder = one('dup-a').metadata.name;

    // The status table: "allocation failed" and "advertised on the router".
    const [failedPhase, , , failedReady] = statusTable.get('allocation failed') ?? [];
    const [okPhase, , , okReady] = statusTable.get('advertised on the router') ?? [];
    expect([failedPhase, failedReady]).toEqual(['Failed', 'False / same reason as Allocated']);
    expect([okPhase, okReady]).toEqual(['Programmed', `True / ${HAPPY}`]);
    for (const c of CASES) {
      expect(row(nameOf(c)), c.reason).toMatchObject({ STATUS: failedPhase, READY: 'False', REASON: c.reason, MESSAGE: c.message(holder) });
      if (c.service) expect(row(nameOf(c))).toMatchObject({ NAMESPACE: 'default', SERVICE: c.service, ADDRESS: '' });
    }
    const exampleOk = exampleGet.rows.find((r) => r.STATUS === 'Programmed');
    const exampleFailed = exampleGet.rows.find((r) => r.STATUS === 'Failed');
    expect(exampleFailed).toMatchObject({ READY: 'False', REASON: 'PoolExhausted', MESSAGE: documentedMessage('PoolExhausted') });
    const web = one('web');
    const address = web.status?.address ?? '';
    expect(address).toMatch(/^198\.51\.100\.(1\d\d)$/);
    expect(row(web.metadata.name)).toEqual({
      ...exampleOk, NAME: web.metadata.name, NAMESPACE: 'default', SERVICE: 'web', ADDRESS: address, AGE: row(web.metadata.name)?.AGE,
      MESSAGE: fill(exampleOk?.MESSAGE ?? '', [[exampleOk?.ADDRESS ?? '', address], ['bridge', 'ether1']]),
    });
    expect(row(web.metadata.name)).toMatchObject({ STATUS: okPhase, READY: 'True', REASON: HAPPY });
    expect(await kubectlOk(['get', 'service', 'web', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).toBe(address);

    // "-o wide adds FAMILY, POOL and CONFIGURED ADDRESS (exactly one of them is set)".
    const wide = parseTable(await kubectlOk(['get', 'ipallocations.mikrolb.de', '-o', 'wide']));
    expect(wide.headers).toEqual([...exampleGet.headers.slice(0, 3), 'FAMILY', 'POOL', 'CONFIGURED ADDRESS', ...exampleGet.headers.slice(3)]);
    const asked = (name: string): string[] => {
      const r = wide.rows.find((x) => x.NAME === name);
      return [r?.FAMILY ?? '?', r?.POOL ?? '?', r?.['CONFIGURED ADDRESS'] ?? '?'];
    };
    expect(asked('hand-written')).toEqual(['', '', '10.0.0.300']);
    expect(asked(web.metadata.name)).toEqual(['IPv4', '', '']);
    expect(asked(one('ex-b').metadata.name)).toEqual(['', 'single', '']);
    expect(asked(one('dup-b').metadata.name)).toEqual(['', '', '198.51.100.150']);
    // "No allocation at all for a Service means MikroLB does not consider the Service its own".
    expect(byService('foreign')).toEqual([]);
  }, 60_000);

  it('kubectl describe ipallocation shows the three conditions and the events', async () => {
    const notAllocated = /Message:\s+(.+)\n\s+Reason:\s+NotAllocated/.exec(exampleDescribe)?.[1];
    expect(notAllocated).toBe('No address is allocated, so nothing is programmed.');
    const holder = one('dup-a').metadata.name;
    const describe = async (name: string) => {
      const text = await kubectlOk(['describe', 'ipallocation', name]);
      const conds = /\n {2}Conditions:\n((?: {4}.*\n)+)/.exec(text)?.[1] ?? '';
      const conditions = conds.split(/(?= {4}Last Transition Time:)/).filter((b) => b.trim() !== '').map((block) =>
        Object.fromEntries(block.split('\n').filter((l) => l.trim() !== '').map((l) => {
          const m = /^\s+([^:]+):\s+(.*)$/.exec(l);
          return [m?.[1] ?? l, m?.[2] ?? ''];
        })));
      const events = parseTable((text.split('\nEvents:\n')[1] ?? '').split('\n').filter((l) => !/^\s*-{2,}/.test(l)).join('\n')).rows;
      return { text, conditions, events };
    };
    for (const c of CASES) {
      const name = nameOf(c);
      const message = c.message(holder);
      const d = await eventually(async () => {
        const got = await describe(name);
        expect(got.events.length).toBeGreaterThan(0);
        return got;
      }, 180_000);
      expect(d.text).toMatch(new RegExp(`^Name:\\s+${name}$`, 'm'));
      expect(d.text).toMatch(/^\s+Phase:\s+Failed$/m);
      if (c.service) {
        expect(d.text).toMatch(new RegExp(`^Labels:\\s+mikrolb\\.de/service-name=${c.service}$`, 'm'));
        expect(d.text).toMatch(/^\s+mikrolb\.de\/service-namespace=default$/m);
        expect(d.text).toMatch(/^\s+mikrolb\.de\/service-uid=[0-9a-f-]{36}$/m);
      }
      expect(d.conditions.map((x) => [x.Type, x.Status, x.Reason, x.Message]), name).toEqual([
        ['Allocated', 'False', c.reason, message], ['Programmed', 'False', 'NotAllocated', notAllocated], ['Ready', 'False', c.reason, message],
      ]);
      expect(d.events, name).toContainEqual(expect.objectContaining({ Type: 'Warning', Reason: c.reason, Message: message }));
      expect(d.events.map((e) => e.From)).toContain('mikrolb.de/controller');
    }
    const web = one('web');
    const d = await eventually(async () => {
      const got = await describe(web.metadata.name);
      expect(got.events.map((e) => `${e.Type} ${e.Reason}`)).toContain('Normal IPAllocated');
      return got;
    }, 180_000);
    // programmed in the invocation that allocated it, IPAllocated says where it is advertised;
    // programmed later (say, a router retry), a Programmed event says so
    const advertised = /advertised on interface \S+\.$/;
    expect(d.events.filter((e) => (e.Reason === 'IPAllocated' || e.Reason === 'Programmed') && advertised.test(e.Message ?? '')).length, JSON.stringify(d.events)).toBeGreaterThan(0);
    // Programming may have been retried on the way (several Services programmed at once).
    const others = d.events.filter((e) => e.Reason !== 'IPAllocated' && e.Reason !== 'Programmed');
    if (others.length > 0) console.log(`[debugging] web's allocation also has the events ${JSON.stringify(others)}`);
    expect(d.conditions.map((x) => [x.Type, x.Status, x.Reason])).toEqual([['Allocated', 'True', 'Allocated'], ['Programmed', 'True', 'Programmed'], ['Ready', 'True', HAPPY]]);
  }, 180_000);

  it('the label selector finds exactly one Service\'s allocations', async () => {
    for (const s of ['web', 'dup-a', 'dup-b', 'ex-b']) {
      const out = await kubectlOk(['get', 'ipallocations.mikrolb.de', '-l', `mikrolb.de/service-namespace=default,mikrolb.de/service-name=${s}`]);
      expect(parseTable(out).rows.map((r) => [r.NAME, r.SERVICE])).toEqual([[one(s).metadata.name, s]]);
    }
    const none = await stack.kubectl(['get', 'ipallocations.mikrolb.de', '-l', 'mikrolb.de/service-namespace=default,mikrolb.de/service-name=foreign']);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('No resources found');
  });

  it('kubectl get ippool shows the counts (Free; Total/Allocated/Free with -o wide)', async () => {
    // local-v4 holds web, dup-a and typo's 198.51.100.160; single its one address (ex-a).
    await eventually(async () => {
      const pools = parseTable(await kubectlOk(['get', 'ippool']));
      expect(pools.headers).toEqual(['NAME', 'FAMILY', 'AUTO-ASSIGN', 'ADVERTISE', 'FREE', 'AGE']);
      const free = Object.fromEntries(pools.rows.map((r) => [r.NAME, [r.FAMILY, r['AUTO-ASSIGN'], r.ADVERTISE, r.FREE]]));
      expect(free).toEqual({ 'local-v4': ['IPv4', 'true', 'true', '97'], 'local-v6': ['IPv6', 'true', 'true', '256'], single: ['IPv4', 'false', 'true', '0'] });
    }, 180_000);
    const wide = parseTable(await kubectlOk(['get', 'ippool', 'single', '-o', 'wide']));
    expect(wide.headers).toEqual(['NAME', 'FAMILY', 'AUTO-ASSIGN', 'ADVERTISE', 'INTERFACE', 'PRIORITY', 'NAMESPACES', 'TOTAL', 'ALLOCATED', 'FREE', 'AGE']);
    expect(wide.rows.map((r) => [r.TOTAL, r.ALLOCATED, r.FREE])).toEqual([['1', '1', '0']]);
  }, 240_000);

  it('the Service shows the allocation\'s story and AnnotationInvalid as documented', async () => {
    const readyCondition = async (name: string) =>
      ServiceStatus.parse(JSON.parse(await kubectlOk(['get', 'service', name, '-o', 'json']))).status?.conditions?.find((c) => c.type === 'mikrolb.de/LoadBalancerReady');
    const exB = one('ex-b').metadata.name;
    await eventually(async () => {
      expect(await readyCondition('ex-b')).toMatchObject({ status: 'False', reason: 'PoolExhausted', message: `IPAllocation ${exB} is not ready: ${documentedMessage('PoolExhausted')}` });
      expect(await readyCondition('web')).toMatchObject({ status: 'True', reason: 'Ready', message: fill('All 2 IPAllocation(s) are ready.', [['2', '1']]) });
    }, 180_000);
    // the command the doc gives to read that condition shows it
    const documented = /^kubectl -n shop get service api -o (jsonpath='[^']+')$/.exec(codeBlockAfter(doc, 'carries the first not-ready allocation\'s story').trim());
    const shown = await kubectlOk(['-n', 'default', 'get', 'service', 'ex-b', '-o', (documented?.[1] ?? '').replace(/'/g, '')]);
    expect(JSON.parse(shown || '{}')).toMatchObject({ type: 'mikrolb.de/LoadBalancerReady', status: 'False', reason: 'PoolExhausted' });
    expect(servicesDoc).toContain('`All 2 IPAllocation(s) are ready.`');
    expect(servicesDoc).toContain('`IPAllocation ip-… is not ready: <that allocation\'s message>`');

    const note = 'mikrolb.de/load-balancer-ips: "not-an-ip" is not a valid IP address; ignoring it';
    expect(doc).toContain(note);
    const events = parseTable(await kubectlOk(['get', 'events', '-A', '--field-selector', 'reason=AnnotationInvalid'])).rows;
    expect(events).toContainEqual(expect.objectContaining({ NAMESPACE: 'default', TYPE: 'Warning', REASON: 'AnnotationInvalid', OBJECT: 'service/typo', MESSAGE: note }));
    expect(await kubectlOk(['-n', 'default', 'describe', 'service', 'typo'])).toMatch(new RegExp(`Warning\\s+AnnotationInvalid\\s+.*${note.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(one('typo').status?.address).toBe('198.51.100.160');
  }, 240_000);

  it('the controller\'s JSON log lines name the allocation and the reason', () => {
    const lines = logLines();
    expect(lines.length).toBeGreaterThan(10);
    for (const l of lines) {
      expect(['debug', 'info', 'warn', 'error']).toContain(l.level);
      expect(l.msg).toMatch(/^[A-Z]/);
      expect(Number.isNaN(Date.parse(l.time))).toBe(false);
    }
    const holder = one('dup-a').metadata.name;
    for (const c of CASES) {
      expect(lines, c.reason).toContainEqual(expect.objectContaining({
        level: 'warn', msg: 'Allocation failed', function: 'allocate', allocation: nameOf(c), reason: c.reason, message: c.message(holder),
      }));
    }
    const web = one('web');
    const address = web.status?.address;
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'Allocated an address', allocation: web.metadata.name, address, pool: 'local-v4' }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'Advertised an address on the router', allocation: web.metadata.name, address, interface: 'ether1' }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'Invalid annotation value', service: 'default/typo', annotation: 'mikrolb.de/load-balancer-ips', value: 'not-an-ip' }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'Invocation done', function: 'allocate', object: 'Service/default/ex-b', status: 200 }));
  });

  // Stops the stack: it stays the last test (it needs nothing an earlier one made).
  it('Ctrl-C stops everything: exit 0, its kube-apiserver and etcd gone, the folder removed', async () => {
    const { clusterPids, clusterDir } = stack;
    expect(clusterPids.every((p) => p > 0)).toBe(true);
    // one Ctrl-C can arrive twice (a terminal signals the process group, npm relays it):
    // the copy 100 ms later is the same Ctrl-C, not "Ctrl-C again to leave at once"
    const exit = await stack.interrupt({ group: false, timeoutMs: 60_000, repeatAfterMs: 100 });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await leftovers(clusterPids, clusterDir, 10_000)).toEqual({ pids: [], dir: false });
    expect(stack.stderr()).toContain('Stopping the local stack');
    expect(stack.stderr()).toContain('"msg":"Stopped bridge"');
  }, 240_000);
});

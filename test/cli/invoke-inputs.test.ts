import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RouterStateSchema } from '../../lib/router/state.js';
import { parseObjectArg } from '../../lib/cli/invoke-args.js';
import {
  allocationSummary, claims, eventLines, fixture, invokeAllocate, run, scratch, writeLines,
} from './support.js';

let tmp: Awaited<ReturnType<typeof scratch>>;
beforeAll(async () => {
  tmp = await scratch();
});
afterAll(async () => {
  await tmp.remove();
});

const IPV4 = fixture('allocate', 'ipv4-auto');
const event = (name: string): string => fixture('events', name);

describe('--event: the function woken by a CloudEvent file', () => {
  it.each(['service-update-structured.json', 'service-add-binary.json', 'forged-service-update.json'])(
    '%s gives the same outcome as --object (events are hints; the function re-reads)',
    async (file) => {
      const byObject = await invokeAllocate(IPV4, '--object', 'Service/shop/web');
      const byEvent = await invokeAllocate(IPV4, '--event', event(file));
      expect(byEvent.ran.code).toBe(0);
      expect(byEvent.out.response.status).toBe(200);
      expect(byEvent.out.objects).toEqual(byObject.out.objects);
      expect(writeLines(byEvent.out)).toEqual(writeLines(byObject.out));
      expect(eventLines(byEvent.out)).toEqual(eventLines(byObject.out));
    },
  );

  it('resync.json reaches the same allocations as --object, and also takes care of the pools (their status)', async () => {
    const byObject = await invokeAllocate(IPV4, '--object', 'Service/shop/web');
    const byEvent = await invokeAllocate(IPV4, '--event', event('resync.json'));
    expect(byEvent.ran.code).toBe(0);
    expect(allocationSummary(byEvent.out)).toEqual(allocationSummary(byObject.out));
    expect(writeLines(byEvent.out)).toEqual(expect.arrayContaining(writeLines(byObject.out)));
    expect(writeLines(byEvent.out)).toContain('update IPPool public-v4 status');
  });

  it('a binary-mode file may carry its body as a string', async () => {
    const Binary = z.object({ headers: z.record(z.string(), z.string()), body: z.unknown() });
    const binary = Binary.parse(JSON.parse(await readFile(event('service-add-binary.json'), 'utf8')));
    const file = await tmp.file('event.json', JSON.stringify({ ...binary, body: JSON.stringify(binary.body) }));
    const { out } = await invokeAllocate(IPV4, '--event', file);
    expect(allocationSummary(out)).toEqual({ 'ip-013a2986c760': 'Allocated 192.0.2.6 ProgrammingPending' });
  });

  it('a resync converges operator reservations too', async () => {
    const { out } = await invokeAllocate(fixture('allocate', 'address-invalid'), '--event', event('resync.json'));
    expect(allocationSummary(out)).toEqual({ 'reserved-bad': 'Failed - AddressInvalid' });
  });
});

describe('--object', () => {
  it.each([
    ['Service/web', { kind: 'Service', namespace: 'default', name: 'web' }],
    ['svc/shop/web', { kind: 'Service', namespace: 'shop', name: 'web' }],
    ['services/shop/web', { kind: 'Service', namespace: 'shop', name: 'web' }],
    ['IPPool/main', { kind: 'IPPool', name: 'main' }],
    ['ipp/main', { kind: 'IPPool', name: 'main' }],
    ['ipa/ip-0123456789ab', { kind: 'IPAllocation', name: 'ip-0123456789ab' }],
    ['ipallocations/x', { kind: 'IPAllocation', name: 'x' }],
    ['EndpointSlice/shop/web-x7k2p', { kind: 'EndpointSlice', namespace: 'shop', name: 'web-x7k2p' }],
    // the other kinds the functions are woken for, as the bridge's log lines name them
    ['IPAddressClaim/192.0.2.6', { kind: 'IPAddressClaim', name: '192.0.2.6' }],
    ['ipc/2001-db8-10-0-0-0-0-fc', { kind: 'IPAddressClaim', name: '2001-db8-10-0-0-0-0-fc' }],
    ['Namespace/shop', { kind: 'Namespace', name: 'shop' }],
    ['ns/shop', { kind: 'Namespace', name: 'shop' }],
  ])('%s names %o', (text, ref) => {
    expect(parseObjectArg(text)).toEqual({ ok: true, ref });
  });

  it('Namespace/name wakes allocate as the bridge does when its labels change: shop leaves tenant-a\'s scope, web moves to the unscoped pool', async () => {
    const { out } = await invokeAllocate(fixture('allocate', 'pool-scoped'), '--object', 'Service/shop/web');
    expect(claims(out)).toEqual({ gold: [], 'public-v4': [], 'tenant-a': ['10.1.0.7=ip-013a2986c760'] });
    const relabelled = await tmp.state(out.objects.map((o) => (o.kind === 'Namespace' && o.metadata.name === 'shop' ? { ...o, metadata: { ...o.metadata, labels: {} } } : o)));
    const after = await invokeAllocate(relabelled, '--object', 'Namespace/shop');
    expect(after.ran.code).toBe(0);
    expect(claims(after.out)).toEqual({ gold: [], 'public-v4': ['192.0.2.1=ip-013a2986c760'], 'tenant-a': [] });
  });

  it('an object missing from the state is a no-op, as for a stale event', async () => {
    const { ran, out } = await invokeAllocate(IPV4, '--object', 'Service/shop/gone');
    expect(ran.code).toBe(0);
    expect(out.writes).toEqual([]);
    expect(out.events).toEqual([]);
  });

  it('says so on stderr, also with --quiet: a mistyped name or a forgotten namespace is not a silent run', async () => {
    // the fixture's Service is shop/web: without its namespace, --object names default/web
    const { ran } = await invokeAllocate(IPV4, '--object', 'Service/web');
    expect(ran.code).toBe(0);
    expect(ran.stderr).toBe('mikrolb invoke: Service default/web is not in the state; the function ran as for an object that is gone (see mikrolb invoke --help)\n');
    const present = await invokeAllocate(IPV4, '--object', 'Service/shop/web');
    expect(present.ran.stderr).toBe('');
  });

  it('an IPPool wakes the Failed allocations that may now succeed, and keeps its counts current', async () => {
    const { out } = await invokeAllocate(fixture('allocate', 'address-not-in-pool'), '--object', 'Service/shop/web');
    expect(allocationSummary(out)).toEqual({ 'ip-222200ef295b': 'Failed - AddressNotInPool' });
    // the operator extends the pool
    const state = await tmp.state(out.objects.map((o) => (o.kind === 'IPPool' ? { ...o, spec: { ipFamily: 'IPv4', addresses: ['192.0.2.0/28', '198.51.100.0/28'] } } : o)));
    const after = await invokeAllocate(state, '--object', 'IPPool/public-v4');
    expect(allocationSummary(after.out)).toEqual({ 'ip-222200ef295b': 'Allocated 198.51.100.1 ProgrammingPending' });
    expect(claims(after.out)).toEqual({ 'public-v4': ['198.51.100.1=ip-222200ef295b'] });
  });
});

describe('--router', () => {
  it('is validated and reported unchanged with no commands: allocate never talks to the router', async () => {
    const file = fixture('router', 'foreign-nat.json');
    const { ran, out } = await invokeAllocate(IPV4, '--object', 'Service/shop/web', '--router', file);
    expect(ran.code).toBe(0);
    expect(out.router).toEqual({ commands: [], state: RouterStateSchema.parse(JSON.parse(await readFile(file, 'utf8'))) });
  });
});

describe('configuration from the environment', () => {
  it('LOAD_BALANCER_CLASS_NAME: a Service of another class is left alone', async () => {
    const ran = await run(['invoke', 'allocate', '--state', IPV4, '--object', 'Service/shop/web', '--quiet'], { LOAD_BALANCER_CLASS_NAME: 'example.com/other' });
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('"writes": []');
  });

  it('LOAD_BALANCER_DEFAULT=true: a LoadBalancer Service without a class is served', async () => {
    const text = (await readFile(fixture('allocate', 'ipv4-auto', 'state.yaml'), 'utf8')).replace('  loadBalancerClass: mikrolb.de/controller\n', '');
    const state = await tmp.file('state.yaml', text);
    const without = await run(['invoke', 'allocate', '--state', state, '--object', 'Service/shop/web', '--quiet']);
    expect(without.stdout).toContain('"writes": []');
    const withDefault = await run(['invoke', 'allocate', '--state', state, '--object', 'Service/shop/web', '--quiet'], { LOAD_BALANCER_DEFAULT: 'true' });
    expect(withDefault.stdout).toContain('"address": "192.0.2.6"');
  });
});

describe('logging', () => {
  it('logs structured lines on stderr unless --quiet', async () => {
    const loud = await run(['invoke', 'allocate', '--state', IPV4, '--object', 'Service/shop/web']);
    expect(loud.stderr).toMatch(/^\{"time":"[^"]+","level":"info","msg":"Allocated an address","function":"allocate"/);
    const quiet = await run(['invoke', 'allocate', '--state', IPV4, '--object', 'Service/shop/web', '--quiet']);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe(loud.stdout);
  });
});

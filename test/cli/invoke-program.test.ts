import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { legacyComment, ownerOf } from '../../lib/router/index.js';
import { createTracer } from '../tracer/index.js';
import { claims, fixture, parseOutput, run } from './support.js';

const STATE = fixture('program', 'web', 'state.yaml');
const ROUTER = fixture('program', 'web', 'router.json');

describe('mikrolb invoke program --router (the simulator behind the real client adapter)', () => {
  it('programs the router, reports the API sentences it sent, and the final router state balances evenly', async () => {
    const ran = await run(['invoke', 'program', '--state', STATE, '--object', 'Service/shop/web', '--router', ROUTER, '--quiet']);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const out = parseOutput(ran);
    expect(out.response.status).toBe(200);
    const sentences = out.router?.commands ?? [];
    expect(sentences.some((w) => w[0] === '/ip/address/add' && w.includes('=address=192.0.2.15/32') && w.includes('=interface=ether1'))).toBe(true);
    expect(sentences.filter((w) => w[0] === '/ip/firewall/nat/add' && w.some((x) => x.startsWith('=action=dst-nat')))).toHaveLength(6);
    const state = out.router?.state;
    if (!state) throw new Error('no router state in the output');
    const tracer = createTracer(state);
    const hits = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const t = tracer.trace({ srcAddress: `198.51.100.${(i % 200) + 1}`, srcPort: 30000 + i, dstAddress: '192.0.2.15', dstPort: 53, protocol: 'udp', inInterface: 'ether1' });
      if (!t.ok) throw new Error(t.message);
      hits.set(`${t.dstAddress}:${t.dstPort}`, (hits.get(`${t.dstAddress}:${t.dstPort}`) ?? 0) + 1);
    }
    expect([...hits.keys()].sort()).toEqual(['10.0.0.11:5353', '10.0.0.12:5353', '10.0.0.13:5353']);
    const alloc = out.objects.find((o) => o.kind === 'IPAllocation');
    expect(alloc).toMatchObject({ status: { phase: 'Programmed', advertised: true, interfaceName: 'ether1' } });
    expect(out.objects.find((o) => o.kind === 'Service')).toMatchObject({ status: { loadBalancer: { ingress: [{ ip: '192.0.2.15', ipMode: 'Proxy' }] } } });
  });

  it('takes the fixture folder as the state, its router.json left to --router', async () => {
    const fromFile = await run(['invoke', 'program', '--state', STATE, '--object', 'Service/shop/web', '--router', ROUTER, '--quiet']);
    const fromFolder = await run(['invoke', 'program', '--state', fixture('program', 'web'), '--object', 'Service/shop/web', '--router', ROUTER, '--quiet']);
    expect(fromFolder.stderr).toBe('');
    expect(fromFolder.code).toBe(0);
    expect(parseOutput(fromFolder)).toEqual(parseOutput(fromFile));
  });

  it('release of a deleted Service removes its entries from the router and leaves the foreign ones', async () => {
    const programmed = parseOutput(await run(['invoke', 'program', '--state', STATE, '--object', 'Service/shop/web', '--router', ROUTER, '--quiet']));
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-release-'));
    const deleting = programmed.objects.map((o) => (o.kind === 'Service' ? { ...o, metadata: { ...o.metadata, deletionTimestamp: '2026-01-01T02:00:00Z' } } : o));
    await writeFile(join(dir, 'state.yaml'), deleting.map((o) => stringify(o)).join('---\n'));
    await writeFile(join(dir, 'router.json'), JSON.stringify(programmed.router?.state));
    const ran = await run(['invoke', 'release', '--state', join(dir, 'state.yaml'), '--object', 'Service/shop/web', '--router', join(dir, 'router.json'), '--quiet']);
    expect(ran.code).toBe(0);
    const out = parseOutput(ran);
    const left = Object.values(out.router?.state.menus ?? {}).flat().filter((e) => (e.comment ?? '').startsWith('mikrolb:'));
    expect(left.length).toBeGreaterThan(0); // the global rules stay while a pool serves their family
    expect(left.every((e) => (e.comment ?? '').startsWith('mikrolb:default:global:'))).toBe(true);
    expect(out.router?.state.menus['/ip/firewall/nat']?.find((e) => e.comment === 'defconf: masquerade')).toBeDefined();
    expect(out.objects.filter((o) => o.kind === 'IPAllocation' || o.kind === 'Service')).toEqual([]);
    // the address is free again: its claim is gone with the allocation, the pool stays
    expect(claims(out)).toEqual({ lan: [] });
  });
});

describe('MIKROLB_CLUSTER_NAME in mikrolb invoke program', () => {
  const ours = (state: { menus: Record<string, { '.id'?: string; comment?: string }[]> } | undefined) =>
    Object.values(state?.menus ?? {}).flat().filter((e) => ownerOf(e.comment) !== undefined);

  it('tags every entry with the cluster name', async () => {
    const ran = await run(['invoke', 'program', '--state', STATE, '--object', 'Service/shop/web', '--router', ROUTER, '--quiet'], { MIKROLB_CLUSTER_NAME: 'lab' });
    expect(ran.code).toBe(0);
    const entries = ours(parseOutput(ran).router?.state);
    expect(entries.length).toBeGreaterThan(10);
    expect(entries.every((e) => e.comment?.startsWith('mikrolb:lab:'))).toBe(true);
  });

  it('refuses a cluster name that cannot be a tag', async () => {
    const ran = await run(['invoke', 'program', '--state', STATE, '--object', 'Service/shop/web', '--router', ROUTER, '--quiet'], { MIKROLB_CLUSTER_NAME: 'Lab:1' });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/MIKROLB_CLUSTER_NAME="Lab:1" must be lower-case/);
  });

  it('adopts entries in the tag format of before cluster names: the narrowed read finds them, their comments are rewritten in place', async () => {
    const programmed = parseOutput(await run(['invoke', 'program', '--state', STATE, '--object', 'Service/shop/web', '--router', ROUTER, '--quiet']));
    const state = programmed.router?.state;
    if (!state) throw new Error('no router state in the output');
    const legacy = { ...state, menus: Object.fromEntries(Object.entries(state.menus).map(([m, es]) => [m, es.map((e) => (e.comment === undefined ? e : { ...e, comment: legacyComment(e.comment) ?? e.comment }))])) };
    const before = ours(legacy);
    expect(before.every((e) => !e.comment?.startsWith('mikrolb:default:'))).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-adopt-'));
    await writeFile(join(dir, 'state.yaml'), programmed.objects.map((o) => stringify(o)).join('---\n'));
    await writeFile(join(dir, 'router.json'), JSON.stringify(legacy));
    const ran = await run(['invoke', 'program', '--state', join(dir, 'state.yaml'), '--object', 'Service/shop/web', '--router', join(dir, 'router.json'), '--quiet']);
    expect(ran.code).toBe(0);
    const out = parseOutput(ran);
    const sent = (out.router?.commands ?? []).filter((w) => !(w[0] ?? '').endsWith('/print'));
    expect(sent.length).toBe(before.length);
    expect(sent.every((w) => (w[0] ?? '').endsWith('/set') && w.some((x) => x.startsWith('=comment=mikrolb:default:')))).toBe(true);
    const after = ours(out.router?.state);
    expect(after.map((e) => e['.id']).sort()).toEqual(before.map((e) => e['.id']).sort());
    expect(after.every((e) => e.comment?.startsWith('mikrolb:default:'))).toBe(true);
  });
});

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTracer } from '../../lib/routeros/tracer/index.js';
import { fixture, parseOutput, run } from './support.js';

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
    expect(left.every((e) => (e.comment ?? '').startsWith('mikrolb:global:'))).toBe(true);
    expect(out.router?.state.menus['/ip/firewall/nat']?.find((e) => e.comment === 'defconf: masquerade')).toBeDefined();
    expect(out.objects.filter((o) => o.kind === 'IPAllocation' || o.kind === 'Service')).toEqual([]);
    const pool = out.objects.find((o) => o.kind === 'IPPool');
    expect(pool).toMatchObject({ status: { allocations: [] } });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { scopes } from '../router/index.js';
import { baseRouter, converge, desiredFor, webService } from '../router/test-support.js';
import type { RouterState } from '../router/state.js';
import { connectRouter, type RouterClient } from '../routeros/client/index.js';
import { startRouterSim, type RouterSim } from '../routeros/sim/index.js';
import { planUninstall, uninstallRouter } from './uninstall.js';
import { RouterError } from '../router/errors.js';
import { memoryRouter } from '../../test/helpers/memory-router.js';

describe('what mikrolb uninstall removes (as its usage text and docs/installation.md say)', () => {
  it('exactly the entries tagged mikrolb:global:<role> or mikrolb:svc=<uid>:<key>, not dynamic ones, not other mikrolb: comments', () => {
    const { lines } = planUninstall({
      '/ip/firewall/nat': [
        { '.id': '*1', chain: 'dstnat', action: 'jump', 'jump-target': 'mikrolb-lb', comment: 'mikrolb:global:nat-dstnat-jump-lb' },
        { '.id': '*2', chain: 'dstnat', action: 'jump', 'jump-target': 'mikrolb-dnat', comment: 'mikrolb: LB connections' },
        { '.id': '*3', chain: 'mikrolb-lb', action: 'jump', 'jump-target': 'mikrolb-svc-0123456789ab', comment: 'mikrolb:svc=0123-uid:lb:192.0.2.9' },
        { '.id': '*4', chain: 'srcnat', action: 'masquerade', comment: 'mikrolb:svc=bad uid:x' },
      ],
      '/ip/address': [
        { '.id': '*A', address: '192.0.2.9/32', interface: 'ether1', comment: 'mikrolb: IP advertisement' },
        { '.id': '*B', address: '192.0.2.10/32', interface: 'ether1', comment: 'mikrolb:svc=0123-uid:addr:192.0.2.10' },
        { '.id': '*C', address: '192.0.2.11/32', interface: 'ether1', dynamic: 'true', comment: 'mikrolb:svc=0123-uid:addr:192.0.2.11' },
      ],
      '/ipv6/firewall/address-list': [{ '.id': '*9', list: 'mikrolb-lb', address: '2001:db8::9', comment: 'mikrolb:svc=0123-uid:list:2001:db8::9' }],
    });
    expect(lines.map((l) => l.split(' ').slice(0, 2).join(' ')).sort()).toEqual(['/ip/address *B', '/ip/firewall/nat *1', '/ip/firewall/nat *3', '/ipv6/firewall/address-list *9']);
  });
});

describe('what mikrolb uninstall says it removed (the simulator)', () => {
  let sim: RouterSim | undefined;
  let client: RouterClient | undefined;
  afterEach(async () => {
    await client?.close();
    await sim?.close();
  });

  const programmed = (): RouterState => converge(baseRouter(), desiredFor([webService()]), scopes.everything).state;
  /** `<menu> <id>` of every entry with a mikrolb: comment. */
  const ours = (state: RouterState): string[] =>
    Object.entries(state.menus).flatMap(([menu, entries]) => entries.filter((e) => (e.comment ?? '').startsWith('mikrolb:')).map((e) => `${menu} ${e['.id'] ?? ''}`));
  const said = (out: string, word: string): string[] =>
    out.split('\n').filter((l) => l.startsWith(`${word} /`)).map((l) => l.slice(word.length + 1).split(' ').slice(0, 2).join(' '));

  async function uninstall(state: RouterState, fault?: (sim: RouterSim) => void): Promise<{ out: string; error: unknown; before: string[]; after: string[] }> {
    sim = await startRouterSim({ initialState: state, users: [{ name: 'u', password: 'p' }] });
    fault?.(sim);
    client = connectRouter({ url: sim.url, username: 'u', password: 'p', timeoutMs: 5000 });
    let out = '';
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => undefined } };
    const before = ours(sim.state());
    const error: unknown = await uninstallRouter(client, false, io).then(() => undefined, (e: unknown) => e);
    return { out, error, before, after: ours(sim.state()) };
  }

  it('every entry removed: each is named as removed, and the count', async () => {
    const { out, error, before, after } = await uninstall(programmed());
    expect(error).toBeUndefined();
    expect(after).toEqual([]);
    expect(said(out, 'removed').sort()).toEqual([...before].sort());
    expect(out).toContain(`removed ${before.length} entries\n`);
  });

  it('the router refuses some removals: only what it removed is named as removed, the rest as left, and it fails', async () => {
    const { out, error, before, after } = await uninstall(programmed(), (s) => s.faults.trapCommand(/^\/ip\/address\/remove$/, { message: 'not enough permissions (9)', times: 'always' }));
    expect(error).toBeDefined();
    expect(after.length).toBeGreaterThan(0);
    expect(after.length).toBeLessThan(before.length);
    expect(said(out, 'removed').sort()).toEqual(before.filter((e) => !after.includes(e)).sort());
    expect(said(out, 'left').sort()).toEqual([...after].sort());
    expect(out).toContain(`removed ${before.length - after.length} of ${before.length} entries, ${after.length} left on the router\n`);
  });

  it('the connection is lost during the removals: nothing is named as removed that the router did not confirm', async () => {
    const lost = new RouterError({ kind: 'connection', message: 'connection reset' });
    let calls = 0;
    const router = memoryRouter(programmed(), { fail: () => (calls++ > 0 ? lost : undefined) });
    let out = '';
    await expect(uninstallRouter(router, false, { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => undefined } })).rejects.toBe(lost);
    const count = ours(programmed()).length;
    expect(out).not.toMatch(/^removed \//m);
    expect(out.split('\n').filter((l) => l.startsWith('not confirmed (the router could not be read again) /'))).not.toHaveLength(0);
    expect(out).toMatch(new RegExp(`^removed 0 of ${count} entries, \\d+ left on the router, \\d+ not confirmed$`, 'm'));
  });
});

import { describe, expect, it } from 'vitest';
import { startRouterSim } from '../../lib/routeros/sim/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { fixture, parseOutput, run } from './support.js';

const foreign = (s: RouterState): string =>
  JSON.stringify(Object.entries(s.menus).map(([m, es]) => [m, es.filter((e) => !(e.comment ?? '').startsWith('mikrolb:'))]));
const ours = (s: RouterState): number => Object.values(s.menus).flat().filter((e) => (e.comment ?? '').startsWith('mikrolb:')).length;

describe('mikrolb uninstall --router', () => {
  it('--dry-run lists every mikrolb: entry and changes nothing; the real run removes exactly those', async () => {
    const programmed = parseOutput(await run(['invoke', 'program', '--state', fixture('program', 'web', 'state.yaml'), '--object', 'Service/shop/web', '--router', fixture('program', 'web', 'router.json'), '--quiet']));
    const state = programmed.router?.state;
    if (!state) throw new Error('no router state');
    // foreign entries that merely mention mikrolb must survive
    const seeded: RouterState = { ...state, menus: { ...state.menus, '/ip/firewall/address-list': [...(state.menus['/ip/firewall/address-list'] ?? []), { '.id': '*F1', list: 'x', address: '10.9.9.9', comment: 'mikrolb notes' }, { '.id': '*F2', list: 'x', address: '10.9.9.8', comment: 'old mikrolb-thing' }] } };
    const sim = await startRouterSim({ initialState: seeded, users: [{ name: 'u', password: 'p' }] });
    const env = { ROUTEROS_URL: sim.url, ROUTEROS_USERNAME: 'u', ROUTEROS_PASSWORD: 'p' };
    try {
      const before = sim.state();
      const count = ours(before);
      expect(count).toBeGreaterThan(10);
      const dry = await run(['uninstall', '--router', '--dry-run'], env);
      expect(dry.code).toBe(0);
      expect(dry.stdout.split('\n').filter((l) => l.startsWith('would remove /'))).toHaveLength(count);
      expect(sim.state()).toEqual(before);
      const real = await run(['uninstall', '--router'], env);
      expect(real.code).toBe(0);
      expect(real.stdout).toContain(`removed ${count} entries`);
      expect(ours(sim.state())).toBe(0);
      expect(foreign(sim.state())).toBe(foreign(before));
    } finally {
      await sim.close();
    }
  });

  it.each([
    [[], {}, 'say --router'],
    [['--router'], {}, 'ROUTEROS_URL is required'],
    [['--router'], { ROUTEROS_URL: 'http://x', ROUTEROS_USERNAME: 'a' }, 'ROUTEROS_URL='],
    [['--bogus'], {}, "Unknown option '--bogus'"],
  ])('usage errors exit 2, in one line: %j', async (argv, env, message) => {
    const r = await run(['uninstall', ...argv], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toMatch(/^mikrolb uninstall: [^\n]*\n$/);
  });

  it('a router user that may only read is told what its group lacks (exit 1)', async () => {
    const programmed = parseOutput(await run(['invoke', 'program', '--state', fixture('program', 'web', 'state.yaml'), '--object', 'Service/shop/web', '--router', fixture('program', 'web', 'router.json'), '--quiet']));
    if (!programmed.router) throw new Error('no router state');
    const sim = await startRouterSim({ initialState: programmed.router.state, users: [{ name: 'u', password: 'p' }, { name: 'ro', password: 'p', group: 'read' }] });
    try {
      const r = await run(['uninstall', '--router'], { ROUTEROS_URL: sim.url, ROUTEROS_USERNAME: 'ro', ROUTEROS_PASSWORD: 'p' });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^mikrolb uninstall: remove \S+ \*[\w,*]+ failed: .*not enough permissions \(9\); the group of the router user "ro" needs the policies api, read and write \(docs\/installation\.md, "A user with its own group"\), then run it again\n$/);
      expect(ours(sim.state())).toBe(ours(programmed.router.state));
    } finally {
      await sim.close();
    }
  });

  it('never prints the password in an error', async () => {
    const r = await run(['uninstall', '--router'], { ROUTEROS_URL: 'api://127.0.0.1:1', ROUTEROS_USERNAME: 'a', ROUTEROS_PASSWORD: 'hunter2' });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('hunter2');
  });
});

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import { RouterStateSchema, type RouterState } from '../../lib/router/state.js';
import { fixture, parseOutput, run } from './support.js';

/**
 * `mikrolb router dump` reads a router with print commands only and prints its state in the
 * `--router` format, connected routes and read-only flags included, so `mikrolb invoke` runs on
 * a copy of it.
 */

const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*3', address: '192.0.2.1/24', interface: 'ether1' }, { '.id': '*4', address: '10.0.0.1/24', interface: 'bridge' }],
    '/ip/route': [{ '.id': '*5', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254' }],
    '/ip/firewall/nat': [{ '.id': '*6', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'defconf: masquerade' }],
    '/ip/firewall/filter': [{ '.id': '*7', chain: 'input', action: 'accept', 'connection-state': 'established,related' }],
  },
};

let sim: RouterSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('mikrolb router dump', () => {
  it('prints the router read-only, connected routes included, in a form invoke --router takes', async () => {
    sim = await startRouterSim({ initialState: SEED, users: [{ name: 'reader', password: 'pw', group: 'read' }], recordCommands: true });
    const ran = await run(['router', 'dump'], { ROUTEROS_URL: sim.url, ROUTEROS_USERNAME: 'reader', ROUTEROS_PASSWORD: 'pw' });
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const dump = RouterStateSchema.parse(JSON.parse(ran.stdout));
    expect(sim.commandLog().map((w) => w[0]).filter((c) => c !== '/login' && !(c ?? '').endsWith('/print'))).toEqual([]);
    expect(dump.version).toBe('7.19.1');
    expect(dump.menus['/ip/route']).toEqual(expect.arrayContaining([
      expect.objectContaining({ 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254', active: 'true' }),
      expect.objectContaining({ 'dst-address': '192.0.2.0/24', gateway: 'ether1', distance: '0', dynamic: 'true', connect: 'true' }),
      expect.objectContaining({ 'dst-address': '10.0.0.0/24', gateway: 'bridge', dynamic: 'true', connect: 'true' }),
    ]));
    expect(dump.menus['/ip/firewall/nat']).toEqual([expect.objectContaining({ '.id': '*6', comment: 'defconf: masquerade', bytes: '0', packets: '0' })]);
    // the dump seeds the simulator behind mikrolb invoke
    const dir = await mkdtemp(join(tmpdir(), 'mikrolb-dump-'));
    await writeFile(join(dir, 'router.json'), ran.stdout);
    const invoked = await run(['invoke', 'program', '--state', fixture('program', 'web', 'state.yaml'), '--object', 'Service/shop/web', '--router', join(dir, 'router.json'), '--quiet']);
    expect(invoked.stderr).toBe('');
    expect(invoked.code).toBe(0);
    expect(parseOutput(invoked).router?.state.menus['/ip/route']).toEqual([expect.objectContaining({ '.id': '*5', 'dst-address': '0.0.0.0/0' })]);
  });

  it('says what it needs', async () => {
    expect((await run(['router'])).code).toBe(2);
    expect((await run(['router', 'dump'])).stderr).toMatch(/ROUTEROS_URL is required/);
  });

  it.each([
    [['router', 'dupm'], 'mikrolb router: unknown verb "dupm"; expected dump'],
    [['router', 'dump', '--bogus'], 'mikrolb router dump: unexpected argument "--bogus"'],
    [['router', 'dump', 'now'], 'mikrolb router dump: unexpected argument "now"'],
  ])('%j names what is wrong in one line (exit 2)', async (argv, line) => {
    expect(await run(argv)).toEqual({ code: 2, stdout: '', stderr: `${line} (see mikrolb router --help)\n` });
  });
});

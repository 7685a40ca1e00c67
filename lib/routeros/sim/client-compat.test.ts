import { RouterOSAPI, RouterOSClient } from 'routeros-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startRouterSim, type RouterSim } from './server.js';

/**
 * The product talks to routers through routeros-client/node-routeros; this checks that library
 * against the simulator. Prints here always find something: on 7.18+ an empty print makes the
 * library crash (a known bug, see the notes), which the product's adapter works around.
 */
let sim: RouterSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('routeros-client against the simulator', () => {
  it.each([
    ['7.19.1', false],
    ['7.17.2', false],
    ['6.40.9', true],
  ])('logs in, prints, adds, pipelines and sees traps on %s (legacy login: %s)', async (version, legacyLogin) => {
    sim = await startRouterSim({ version, legacyLogin, users: [{ name: 'api', password: 'pw' }] });
    const api = new RouterOSAPI({ host: '127.0.0.1', port: sim.port, user: 'api', password: 'pw', timeout: 5 });
    api.on('error', () => undefined);
    await api.connect();
    const ethers = await api.write('/interface/print', ['?type=ether', '=.proplist=name']);
    expect(ethers).toEqual([{ name: 'ether1' }, { name: 'ether2' }]);
    expect(await api.write('/ip/firewall/nat/add', ['=chain=dstnat', '=comment=mikrolb:x'])).toEqual([{ ret: '*5' }]);
    const added = await Promise.all(
      Array.from({ length: 100 }, (_, i) => api.write('/ip/firewall/address-list/add', ['=list=lb', `=address=10.0.0.${i}`])),
    );
    expect(added[99]).toEqual([{ ret: '*69' }]);
    await expect(api.write('/ip/firewall/nat/set', ['=.id=*99', '=comment=x'])).rejects.toThrow('no such item');
    await api.close();
  });

  it('works through the RouterOSClient menu API', async () => {
    sim = await startRouterSim({ users: [{ name: 'api', password: 'pw' }] });
    const client = new RouterOSClient({ host: '127.0.0.1', port: sim.port, user: 'api', password: 'pw', timeout: 5 });
    client.on('error', () => undefined);
    const menu = await client.connect();
    await menu.menu('/ip/address').add({ address: '192.0.2.1/24', interface: 'ether1', comment: 'mikrolb:x' });
    const rows = await menu.menu('/ip/address').where('comment', 'mikrolb:x').get();
    expect(rows).toMatchObject([{ id: '*5', address: '192.0.2.1/24', network: '192.0.2.0', disabled: false }]);
    await client.disconnect();
  });
});

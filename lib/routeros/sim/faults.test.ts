import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRawClient } from './raw-client.js';
import { startLoggedIn, type SimFixture } from './testing.js';

let fixture: SimFixture | undefined;
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

async function router(): Promise<SimFixture> {
  fixture = await startLoggedIn();
  return fixture;
}

describe('fault injection', () => {
  it('refuses connections by closing them, and stops refusing', async () => {
    const { sim, connect } = await router();
    sim.faults.refuseConnections();
    const refused = await connectRawClient({ port: sim.port });
    await refused.closed;
    await expect(refused.login('admin', '')).rejects.toThrow('connection closed');
    sim.faults.refuseConnections(false);
    const accepted = await connect();
    expect((await accepted.login('admin', '')).trap).toBeNull();
  });

  it('refuses connections with a reset', async () => {
    const { sim } = await router();
    sim.faults.refuseConnections('reset');
    const socket = connect({ port: sim.port, host: '127.0.0.1' });
    const error = await new Promise<Error>((resolve) => socket.once('error', resolve));
    expect(error.message).toMatch(/ECONNRESET/);
  });

  it('drops the connection after N reply sentences', async () => {
    const { sim, client } = await router();
    sim.faults.dropAfterSentences(2);
    const print = client.command(['/interface/print']);
    await expect(print).rejects.toThrow('connection closed');
    const replies = client.received.filter((words) => words.includes('.tag=t2'));
    expect(replies.map((words) => words[0])).toEqual(['!re', '!re']);
    expect(sim.stats.openConnections).toBe(0);
  });

  it('drops the connection in the middle of a sentence', async () => {
    const { sim, client } = await router();
    sim.faults.dropAfterSentences(1, { partial: true });
    await expect(client.command(['/interface/print'])).rejects.toThrow('connection closed');
    expect(client.received.filter((words) => words.includes('.tag=t2'))).toHaveLength(1);
  });

  it('delays replies and keeps their order', async () => {
    const { sim, client } = await router();
    sim.faults.delayReplies(300);
    const started = Date.now();
    const [first, second] = await Promise.all([
      client.command(['/ip/firewall/filter/add', '=chain=a']),
      client.command(['/ip/firewall/filter/add', '=chain=b']),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
    expect([first?.done.ret, second?.done.ret]).toEqual(['*5', '*6']);
    sim.faults.delayReplies(0);
    const quick = Date.now();
    await client.command(['/interface/print']);
    expect(Date.now() - quick).toBeLessThan(250);
  });

  it('traps a chosen command once, then runs it normally', async () => {
    const { sim, client } = await router();
    sim.faults.trapCommand('/ip/firewall/nat/add', { message: 'failure: out of memory', category: 4 });
    const trapped = await client.command(['/ip/firewall/nat/add', '=chain=x']);
    expect(trapped.sentences).toEqual([
      ['!trap', '.tag=t2', '=category=4', '=message=failure: out of memory'],
      ['!done', '.tag=t2'],
    ]);
    expect(sim.state().menus['/ip/firewall/nat']).toBeUndefined();
    expect((await client.command(['/ip/firewall/nat/add', '=chain=x'])).trap).toBeNull();
  });

  it('traps matching commands always until cleared', async () => {
    const { sim, client } = await router();
    sim.faults.trapCommand(/^\/ip\/address\//, { message: 'busy', times: 'always' });
    for (let i = 0; i < 3; i++) expect((await client.command(['/ip/address/print'])).trap).toEqual({ message: 'busy' });
    sim.faults.clear();
    expect((await client.command(['/ip/address/print'])).empty).toBe(true);
  });

  it('hangs a command until it is cancelled, while other commands still answer', async () => {
    const { sim, client } = await router();
    sim.faults.hangCommand('/ip/firewall/filter/print');
    const hung = client.command(['/ip/firewall/filter/print']);
    expect((await client.command(['/interface/print', '=count-only='])).done.ret).toBe('4');
    const cancel = await client.command(['/cancel', '=tag=t2']);
    expect(cancel.trap).toBeNull();
    expect((await hung).sentences).toEqual([['!trap', '.tag=t2', '=category=2', '=message=interrupted'], ['!done', '.tag=t2']]);
    // a real router's order (librouteros' capture): the trap, /cancel's !done, the command's !done
    expect(client.received.slice(-3)).toEqual([['!trap', '.tag=t2', '=category=2', '=message=interrupted'], ['!done', '.tag=t4'], ['!done', '.tag=t2']]);
  });

  it('cancels a command still waiting behind a delay', async () => {
    const { sim, client } = await router();
    sim.faults.delayReplies(200);
    const waiting = client.command(['/ip/firewall/filter/add', '=chain=a']);
    await client.command(['/cancel', '=tag=t2']);
    expect((await waiting).trap).toEqual({ message: 'interrupted', category: '2' });
    expect(sim.state().menus['/ip/firewall/filter']).toBeUndefined();
  });

  it('sends !fatal on the next command and closes the connection', async () => {
    const { sim, client } = await router();
    sim.faults.fatalOnNextCommand('out of resources');
    await expect(client.command(['/interface/print'])).rejects.toThrow('!fatal out of resources');
    expect(client.received.at(-1)).toEqual(['!fatal', 'out of resources']);
    await client.closed;
  });

  it('goes away and comes back on the same port with the same state', async () => {
    const { sim, client, connect } = await router();
    await client.command(['/ip/firewall/filter/add', '=chain=keep']);
    const port = sim.port;
    await sim.faults.goAway();
    await client.closed;
    await expect(connectRawClient({ port })).rejects.toThrow(/ECONNREFUSED/);
    await sim.faults.comeBack();
    expect(sim.port).toBe(port);
    const again = await connect();
    await again.login('admin', '');
    expect((await again.command(['/ip/firewall/filter/print'])).items.map((i) => i.chain)).toEqual(['keep']);
  });

  it('counts connections, commands and sentences', async () => {
    const { sim, client } = await router();
    sim.resetStats();
    await client.command(['/interface/print']);
    expect(sim.stats).toMatchObject({ commands: 1, sentencesReceived: 1, sentencesSent: 5, openConnections: 1 });
    expect(sim.stats.commandsByPath).toEqual({ '/interface/print': 1 });
    expect(sim.commandLog()).toEqual([['/interface/print', '.tag=t2']]);
  });
});

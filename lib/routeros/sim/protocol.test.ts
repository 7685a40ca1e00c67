import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRawClient } from './raw-client.js';
import { legacyResponse } from './login.js';
import { startRouterSim, type RouterSim } from './server.js';
import { startLoggedIn, type SimFixture } from './testing.js';

let fixture: SimFixture | undefined;
let bare: RouterSim | undefined;
afterEach(async () => {
  await fixture?.stop();
  await bare?.close();
  fixture = undefined;
  bare = undefined;
});

async function logged(options: Parameters<typeof startLoggedIn>[0] = {}): Promise<SimFixture> {
  fixture = await startLoggedIn(options);
  return fixture;
}

describe('login', () => {
  it('accepts /login =name= =password= with a bare !done (no =ret=)', async () => {
    bare = await startRouterSim({ users: [{ name: 'api', password: 's3cret' }] });
    const client = await connectRawClient({ port: bare.port });
    const reply = await client.login('api', 's3cret');
    expect(reply.sentences).toEqual([['!done', '.tag=t1']]);
    client.close();
  });

  it('answers a wrong password with the RouterOS trap and lets the client retry', async () => {
    bare = await startRouterSim({ users: [{ name: 'api', password: 's3cret' }] });
    const client = await connectRawClient({ port: bare.port });
    const refused = await client.login('api', 'nope');
    expect(refused.sentences).toEqual([['!trap', '.tag=t1', '=message=invalid user name or password (6)'], ['!done', '.tag=t1']]);
    expect((await client.login('nobody', 's3cret')).trap?.message).toBe('invalid user name or password (6)');
    expect((await client.login('api', 's3cret')).trap).toBeNull();
    client.close();
  });

  it('refuses commands before login with "not logged in"', async () => {
    bare = await startRouterSim();
    const client = await connectRawClient({ port: bare.port });
    const reply = await client.command(['/ip/address/print']);
    expect(reply.trap).toEqual({ message: 'not logged in' });
    client.close();
  });

  it('speaks the pre-6.43 challenge login in legacy mode', async () => {
    bare = await startRouterSim({ legacyLogin: true, users: [{ name: 'api', password: 'pw' }] });
    const client = await connectRawClient({ port: bare.port });
    // A modern client tries name+password first; a legacy router answers with a challenge.
    const first = await client.login('api', 'pw');
    const challenge = first.done.ret ?? '';
    expect(challenge).toMatch(/^[0-9a-f]{32}$/);
    const wrong = await client.command(['/login', '=name=api', `=response=${legacyResponse('bad', Buffer.from(challenge, 'hex'))}`]);
    expect(wrong.trap?.message).toBe('invalid user name or password (6)');
    const again = (await client.command(['/login'])).done.ret ?? '';
    const ok = await client.command(['/login', '=name=api', `=response=${legacyResponse('pw', Buffer.from(again, 'hex'))}`]);
    expect(ok.sentences).toEqual([['!done', '.tag=t4']]);
    expect((await client.command(['/system/resource/print'])).items[0]?.version).toBe('7.19.1 (stable)');
    expect(bare.commandLog()[1]).toEqual(['/login', '=name=api', '=response=***', '.tag=t2']);
    client.close();
  });

  it('keeps passwords out of the command log', async () => {
    const { sim } = await logged({ users: [{ name: 'api', password: 'hunter2' }] });
    expect(JSON.stringify(sim.commandLog())).not.toContain('hunter2');
  });

  it('serves api-ssl with the given certificate', async () => {
    const cert = readFileSync(new URL('./testdata/localhost.cert.pem', import.meta.url));
    const key = readFileSync(new URL('./testdata/localhost.key.pem', import.meta.url));
    const { sim, connect } = await logged({ tls: { key, cert } });
    expect(sim.url).toBe(`api-ssl://127.0.0.1:${sim.port}`);
    const verified = await connect({ ca: cert });
    await verified.login('admin', '');
    expect((await verified.command(['/interface/print', '?name=ether1'])).items[0]?.name).toBe('ether1');
  });
});

describe('replies', () => {
  it('puts the tag on every reply sentence and none on untagged commands', async () => {
    const { client } = await logged();
    await client.command(['/ip/firewall/filter/add', '=chain=input']);
    await client.command(['/ip/firewall/filter/add', '=chain=input', '=bogus=1']);
    await client.command(['/interface/print']);
    await client.command(['/ip/firewall/nat/print']);
    const tagged = client.received.filter((words) => words[0] !== undefined);
    expect(tagged.length).toBeGreaterThan(8);
    for (const words of tagged) expect(words.filter((w) => w.startsWith('.tag=')).length).toBe(1);
    const other = await fixture?.connect();
    other?.send(['/login', '=name=admin', '=password=']);
    other?.send(['/interface/print', '?name=lo']);
    const untagged = other === undefined ? [] : [await other.next(), await other.next(), await other.next()];
    expect(untagged.map((words) => words[0])).toEqual(['!done', '!re', '!done']);
    for (const words of untagged) expect(words.some((w) => w.startsWith('.tag='))).toBe(false);
  });

  it('answers an empty print with !empty then !done from 7.18 on', async () => {
    const { client } = await logged({ version: '7.18' });
    const reply = await client.command(['/ip/firewall/nat/print']);
    expect(reply.sentences).toEqual([['!empty', '.tag=t2'], ['!done', '.tag=t2']]);
  });

  it('answers an empty print with a bare !done before 7.18', async () => {
    const { client } = await logged({ version: '7.17.2' });
    const reply = await client.command(['/ip/firewall/nat/print']);
    expect(reply.sentences).toEqual([['!done', '.tag=t2']]);
  });

  it('counts with count-only instead of listing', async () => {
    const { client } = await logged();
    expect((await client.command(['/interface/print', '=count-only=', '?type=ether'])).sentences).toEqual([['!done', '.tag=t2', '=ret=2']]);
  });

  it('limits properties with .proplist, in the order asked', async () => {
    const { client } = await logged();
    const reply = await client.command(['/interface/print', '=.proplist=type,.id,nonexistent', '?name=bridge']);
    expect(reply.sentences[0]).toEqual(['!re', '.tag=t2', '=type=bridge', '=.id=*3']);
  });

  it('ends the session on /quit with !fatal', async () => {
    const { client } = await logged();
    client.send(['/quit']);
    expect(await waitFor(client, '!fatal')).toEqual(['!fatal', 'session terminated on request']);
    await client.closed;
  });

  it.each([
    [['/ip/firewall/nat/frobnicate'], { message: 'no such command', category: '0' }],
    [['/ip/print'], { message: 'no such command', category: '0' }],
    [['/ip/nothing/print'], { message: 'no such command prefix', category: '0' }],
    [['/interface/add', '=name=x'], { message: 'no such command', category: '0' }],
    [['/interface/print', 'stray'], { message: 'unknown parameter stray', category: '1' }],
    [['/interface/print', '=follow='], { message: 'unknown parameter follow', category: '1' }],
    [['/interface/print', '?#z'], { message: 'invalid query word ?#z', category: '1' }],
  ])('traps %j', async (words, trap) => {
    const { client } = await logged();
    expect((await client.command(words)).trap).toEqual(trap);
  });

  it('drops a connection that sends a word above the size limit or a reserved length byte', async () => {
    const { connect } = await logged({ maxWordSize: 1024 });
    const big = await connect();
    big.send(['/login', `=name=${'x'.repeat(2048)}`]);
    await big.closed;
    const reserved = await connect();
    reserved.socket.write(Buffer.from([0xf8, 0, 0, 0, 0]));
    await reserved.closed;
    const fine = await connect();
    expect((await fine.login('admin', '')).trap).toBeNull();
  });

  it('ignores empty sentences (keep-alives)', async () => {
    const { client } = await logged();
    client.send([]);
    expect((await client.command(['/interface/print', '=count-only='])).done.ret).toBe('4');
  });
});

describe('many commands in flight', () => {
  it('answers 1,000 pipelined commands, each under its own tag, in order', async () => {
    const { client, sim } = await logged();
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        i % 2 === 0
          ? client.command(['/ip/firewall/address-list/add', '=list=bench', `=address=10.1.${i >> 8}.${i & 255}`])
          : client.command(['/ip/firewall/address-list/print', '=count-only=']),
      ),
    );
    const elapsed = performance.now() - started;
    console.info(`routeros-sim: 1,000 pipelined commands answered in ${elapsed.toFixed(0)} ms`);
    expect(replies.every((reply) => reply.trap === null)).toBe(true);
    expect(replies[999]?.done.ret).toBe('500');
    expect(replies[998]?.done.ret).toMatch(/^\*/);
    expect(sim.stats.commands).toBe(1001);
    // The time is a figure (printed above; `npm run bench` tracks the router's speed), not an assertion.
  });

  it('prints 10,000 entries', async () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => ({
      '.id': `*${(i + 1).toString(16).toUpperCase()}`,
      chain: 'dstnat',
      action: 'dst-nat',
      'dst-address': `192.0.${i >> 8}.${i & 255}`,
      protocol: 'tcp',
      'dst-port': '80',
      'to-addresses': '10.0.0.1',
      'to-ports': '8080',
      comment: `mikrolb:svc-${i}`,
    }));
    const { client, sim } = await logged({ initialState: { version: '7.19.1', menus: { '/ip/firewall/nat': entries, '/interface': [] } } });
    const started = performance.now();
    const reply = await client.command(['/ip/firewall/nat/print']);
    const elapsed = performance.now() - started;
    console.info(`routeros-sim: print of 10,000 NAT rules took ${elapsed.toFixed(0)} ms (${sim.stats.bytesSent} bytes)`);
    expect(reply.items).toHaveLength(10_000);
    expect(reply.items[9999]).toMatchObject({ '.id': '*2710', comment: 'mikrolb:svc-9999', bytes: '0' });
    const queried = await client.command(['/ip/firewall/nat/print', '?comment=mikrolb:svc-1234', '=.proplist=.id']);
    expect(queried.items).toEqual([{ '.id': '*4D3' }]);
  });
});

async function waitFor(client: { next(): Promise<string[]> }, reply: string): Promise<string[]> {
  for (;;) {
    const words = await client.next();
    if (words[0] === reply) return words;
  }
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RouterOSAPI } from 'routeros-client';
import { describe, expect, it } from 'vitest';
import { neutraliseEmptyReplies } from './patch.js';
import { sim, USER } from './test-support.js';

const run = promisify(execFile);

/** An empty print through routeros-client itself, in a child process, so its crash cannot hurt this one. */
const UNPATCHED = `
import { RouterOSAPI } from 'routeros-client';
const api = new RouterOSAPI({ host: '127.0.0.1', port: Number(process.argv[1]), user: '${USER.name}', password: '${USER.password}', timeout: 5 });
api.on('error', () => undefined);
await api.connect();
const rows = await api.write('/ip/address/print', ['?comment=nothing']);
console.log('survived', JSON.stringify(rows));
await api.close();
`;

describe('the !empty workaround for routeros-client', () => {
  it('is needed: unpatched, an empty print on RouterOS 7.18+ crashes the process', async () => {
    const router = await sim({ version: '7.19.1' });
    const outcome = await run(process.execPath, ['--input-type=module', '-e', UNPATCHED, String(router.port)], { cwd: process.cwd(), timeout: 10_000 })
      .then(() => 'exited normally', (error: unknown) => String(error));
    expect(outcome).toMatch(/Tried to process unknown reply: !empty/);
  });

  it.each(['7.19.1', '7.17.2'])('works: patched, an empty print resolves to [] on %s and the connection lives on', async (version) => {
    neutraliseEmptyReplies();
    neutraliseEmptyReplies(); // idempotent
    const router = await sim({ version });
    const api = new RouterOSAPI({ host: '127.0.0.1', port: router.port, user: USER.name, password: USER.password, timeout: 5 });
    api.on('error', () => undefined);
    await api.connect();
    expect(await api.write('/ip/address/print', ['?comment=nothing'])).toEqual([]);
    expect(await api.write('/interface/print', ['?name=ether1', '=.proplist=name'])).toEqual([{ name: 'ether1' }]);
    await api.close();
  });
});

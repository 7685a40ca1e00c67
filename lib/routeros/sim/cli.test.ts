import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runRouterSimCli } from './cli.js';
import { connectRawClient } from './raw-client.js';

function capture() {
  let out = '';
  let err = '';
  const lines: ((line: string) => void)[] = [];
  return {
    stdout: {
      write: (text: string) => {
        out += text;
        for (const notify of lines.splice(0)) notify(out);
        return true;
      },
    },
    stderr: { write: (text: string) => (err += text) },
    firstLine: () => new Promise<string>((resolve) => (out === '' ? lines.push(resolve) : resolve(out))),
    get err() {
      return err;
    },
  };
}

async function running(argv: string[], env: Record<string, string> = {}) {
  const io = capture();
  const controller = new AbortController();
  const exit = runRouterSimCli(argv, env, { ...io, signal: controller.signal });
  const line = await Promise.race([io.firstLine(), exit.then((code) => `exit ${code}: ${io.err}`)]);
  const match = /^ROUTEROS_URL=(api|api-ssl):\/\/127\.0\.0\.1:(\d+)\n$/.exec(line);
  if (match === null) throw new Error(`unexpected output: ${line}`);
  return { scheme: match[1], port: Number(match[2]), stop: () => (controller.abort(), exit) };
}

describe('mikrolb routeros-sim', () => {
  it('prints ROUTEROS_URL once listening, serves the given user and seed, and exits 0 when stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'routeros-sim-'));
    const seed = join(dir, 'router.json');
    writeFileSync(seed, JSON.stringify({ version: '7.17.2', menus: { '/ip/firewall/nat': [{ '.id': '*1', chain: 'dstnat' }] } }));
    const sim = await running(['--port', '0', '--user', 'api', '--password', 'pw', '--seed', seed]);
    expect(sim.scheme).toBe('api');
    const client = await connectRawClient({ port: sim.port });
    expect((await client.login('api', 'pw')).trap).toBeNull();
    expect((await client.command(['/ip/firewall/nat/print'])).items).toHaveLength(1);
    expect((await client.command(['/ip/firewall/filter/print'])).empty).toBe(false);
    client.close();
    expect(await sim.stop()).toBe(0);
  });

  it('takes default credentials from ROUTEROS_USERNAME/ROUTEROS_PASSWORD and adds a read-only user', async () => {
    const sim = await running(['--port', '0', '--read-only-user', 'viewer'], { ROUTEROS_USERNAME: 'env-user', ROUTEROS_PASSWORD: 'env-pw' });
    const client = await connectRawClient({ port: sim.port });
    expect((await client.login('env-user', 'env-pw')).trap).toBeNull();
    const viewer = await connectRawClient({ port: sim.port });
    await viewer.login('viewer', '');
    expect((await viewer.command(['/ip/firewall/nat/add', '=chain=x'])).trap?.message).toBe('not enough permissions (9)');
    client.close();
    viewer.close();
    await sim.stop();
  });

  it('serves admin when ROUTEROS_USERNAME is empty (an empty value counts as unset)', async () => {
    const sim = await running(['--port', '0'], { ROUTEROS_USERNAME: '' });
    const client = await connectRawClient({ port: sim.port });
    expect((await client.login('admin', '')).trap).toBeNull();
    client.close();
    await sim.stop();
  });

  // as the product reads ROUTEROS_USERNAME (lib/config.ts): trimmed, only whitespace is unset
  it.each([['mikrolb\n', 'mikrolb'], [' \t', 'admin']])('serves ROUTEROS_USERNAME=%j as the user %s, as the components log in', async (value, user) => {
    const sim = await running(['--port', '0'], { ROUTEROS_USERNAME: value });
    const client = await connectRawClient({ port: sim.port });
    expect((await client.login(user, '')).trap).toBeNull();
    client.close();
    await sim.stop();
  });

  it('serves api-ssl with --tls-cert and --tls-key', async () => {
    const cert = fileURLToPath(new URL('./testdata/localhost.cert.pem', import.meta.url));
    const key = fileURLToPath(new URL('./testdata/localhost.key.pem', import.meta.url));
    const sim = await running(['--port', '0', '--tls-cert', cert, '--tls-key', key, '--version', '7.19.1']);
    expect(sim.scheme).toBe('api-ssl');
    const client = await connectRawClient({ port: sim.port, tls: { rejectUnauthorized: false } });
    expect((await client.login('admin', '')).trap).toBeNull();
    client.close();
    await sim.stop();
  });

  it.each([
    [['--port', 'x'], '--port "x" is not a port (0-65535; 0: any free port)'],
    [['--port', '0x1f90'], '--port "0x1f90" is not a port (0-65535; 0: any free port)'],
    [['--port', ''], '--port "" is not a port (0-65535; 0: any free port)'],
    [['--port', '65536'], '--port "65536" is not a port (0-65535; 0: any free port)'],
    [['--tls-cert', 'a.pem'], '--tls-cert and --tls-key go together'],
    [['--version', 'seven'], '--version seven does not look like 7.19.1'],
    [['--seed', '/nonexistent/router.json'], 'cannot read --seed /nonexistent/router.json'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
    [['--seed', '/dev/null'], '--seed /dev/null is not JSON'],
  ])('exits 2 on %j', async (argv, message) => {
    const io = capture();
    expect(await runRouterSimCli(argv, {}, { ...io, signal: AbortSignal.abort() })).toBe(2);
    expect(io.err).toContain(message);
    expect(io.err).toMatch(/^mikrolb routeros-sim: [^\n]* \(see mikrolb routeros-sim --help\)\n$/);
  });

  it('exits 2 on a certificate or key that is not PEM, naming the files (an input error, not a failure to start)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'routeros-sim-'));
    const notPem = join(dir, 'cert.pem');
    writeFileSync(notPem, 'not a certificate\n');
    const io = capture();
    expect(await runRouterSimCli(['--port', '0', '--tls-cert', notPem, '--tls-key', notPem], {}, { ...io, signal: AbortSignal.abort() })).toBe(2);
    expect(io.err).toMatch(new RegExp(`^mikrolb routeros-sim: --tls-cert ${notPem} and --tls-key ${notPem} are not a PEM certificate and its key: .*PEM`));
  });

  it('exits 2 on a seed that is not a router state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'routeros-sim-'));
    const seed = join(dir, 'router.json');
    writeFileSync(seed, JSON.stringify({ version: 'seven', menus: {} }));
    const io = capture();
    expect(await runRouterSimCli(['--seed', seed], {}, { ...io, signal: AbortSignal.abort() })).toBe(2);
    expect(io.err).toContain('version must look like 7.19.1');
    writeFileSync(seed, JSON.stringify({ version: '7.19.1', menus: { '/ip/firewall/nats': [] } }));
    expect(await runRouterSimCli(['--seed', seed], {}, { ...io, signal: AbortSignal.abort() })).toBe(2);
    expect(io.err).toContain(`--seed ${seed}: unknown menu /ip/firewall/nats`);
  });

  it('starts from an earlier `mikrolb invoke --router` output, as invoke --router does (its router.state)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'routeros-sim-'));
    const seed = join(dir, 'output.json');
    const state = { version: '7.17.2', menus: { '/ip/firewall/nat': [{ '.id': '*1', chain: 'dstnat' }] } };
    writeFileSync(seed, JSON.stringify({ function: 'program', response: { status: 200 }, objects: [], router: { commands: [], state } }));
    const sim = await running(['--port', '0', '--seed', seed]);
    const client = await connectRawClient({ port: sim.port });
    await client.login('admin', '');
    const nat = (await client.command(['/ip/firewall/nat/print'])).items;
    expect(nat).toHaveLength(1);
    expect(nat[0]).toMatchObject({ '.id': '*1', chain: 'dstnat' });
    expect((await client.command(['/system/resource/print'])).items[0]).toMatchObject({ version: expect.stringMatching(/^7\.17\.2\b/) });
    client.close();
    expect(await sim.stop()).toBe(0);
  });

  it.each([
    ['the output of a run without --router', { function: 'allocate', objects: [] }, 'is the output of a run without --router: it holds no router state'],
    ['neither a router state nor an output', { kind: 'List', items: [] }, 'is not a router\'s state {"version": "7.19.1", "menus": {...}}: it has neither "version" nor "menus"'],
  ])('exits 2 on a seed that is %s, saying which formats it takes', async (_what, content, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'routeros-sim-'));
    const seed = join(dir, 'seed.json');
    writeFileSync(seed, JSON.stringify(content));
    const io = capture();
    expect(await runRouterSimCli(['--seed', seed], {}, { ...io, signal: AbortSignal.abort() })).toBe(2);
    expect(io.err).toContain(`--seed ${seed} ${message}`);
  });

  it('exits 1 when the port is taken', async () => {
    const first = await running(['--port', '0']);
    const io = capture();
    expect(await runRouterSimCli(['--port', String(first.port)], {}, { ...io, signal: AbortSignal.abort() })).toBe(1);
    expect(io.err).toMatch(/cannot start: .*EADDRINUSE/);
    await first.stop();
  });
});

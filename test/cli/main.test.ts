import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { main, serveFunctions, SUBCOMMANDS } from '../../bridge/main.js';
import { FUNCTIONS, FUNCTION_PORT, WEBHOOK_PORT } from '../../functions/registry.js';
import { fixture, InvokeOutputSchema, REPO, run, runBin, scratch } from './support.js';

const UNKNOWN_COMMAND = 'mikrolb: unknown command "frobnicate"; expected invoke, routeros-sim, serve, bridge, controller, uninstall or router (see mikrolb --help)';

describe('mikrolb', () => {
  it.each([['help'], ['--help'], ['-h']])('%s prints the usage on stdout and exits 0', async (arg) => {
    const ran = await run([arg]);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(/^usage: mikrolb <command> \[arguments\]\n/);
    for (const name of Object.keys(SUBCOMMANDS)) expect(ran.stdout).toContain(`  ${name}`);
    expect(ran.stdout).toMatch(/serve <allocate\|program\|release\|webhook> +serve one function on \$PORT/);
  });

  it('help says what each exit status means', async () => {
    expect((await run(['help'])).stdout).toMatch(/\nExit status: 0 done; 1 the work failed[^;]*; 2 the command line, an input file or\nthe configuration is wrong\.\n$/);
  });

  it.each([['invoke', /^usage: mikrolb invoke </], ['router', /^usage: mikrolb router dump\n/], ['bridge', /^usage: mikrolb bridge\n/]])('help %s prints that command\'s help, as <command> --help does', async (name, text) => {
    const ran = await run(['help', name]);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(text);
    expect(ran.stdout).toBe((await run([name, '--help'])).stdout);
  });

  it('help of an unknown command is refused in one line, exit 2', async () => {
    expect(await run(['help', 'frobnicate'])).toEqual({ code: 2, stdout: '', stderr: `${UNKNOWN_COMMAND}\n` });
  });

  it('serve knows each function\'s router need and port before it loads the registry, as the registry says', async () => {
    const served = await serveFunctions();
    expect(Object.keys(served).sort()).toEqual([...Object.keys(FUNCTIONS), 'webhook'].sort());
    for (const [name, entry] of Object.entries(FUNCTIONS)) expect([served[name]?.needsRouter, served[name]?.defaultPort, served[name]?.invoked], name).toEqual([entry.needsRouter, FUNCTION_PORT, true]);
    expect([served.webhook?.needsRouter, served.webhook?.defaultPort]).toEqual([false, WEBHOOK_PORT]);
  });

  it('without a command prints the usage on stderr and exits 2', async () => {
    const ran = await run([]);
    expect(ran).toMatchObject({ code: 2, stdout: '' });
    expect(ran.stderr).toMatch(/^usage: mikrolb/);
  });

  it('refuses an unknown command in one line, exit 2', async () => {
    expect(await run(['frobnicate', '--now'])).toEqual({ code: 2, stdout: '', stderr: `${UNKNOWN_COMMAND}\n` });
  });

  it.each(['bridge', 'controller'])('%s refuses an extra argument (exit 2)', async (cmd) => {
    expect(await run([cmd, 'allocate'])).toEqual({ code: 2, stdout: '', stderr: `mikrolb ${cmd}: unexpected argument "allocate"\n` });
  });

  // as invoke's: the usage text after the line (up to 15 lines) pushed the line itself out of sight
  it.each<[string[], string]>([
    [['serve'], 'mikrolb serve: name the function to serve: allocate, program, release or webhook (see mikrolb serve --help)'],
    [['serve', 'alocate'], 'mikrolb serve: unknown function "alocate"; expected allocate, program, release or webhook (see mikrolb serve --help)'],
    [['serve', 'allocate', '--port', '9000'], 'mikrolb serve: unexpected argument "--port": its configuration comes from environment variables ($PORT, ...; docs/configuration.md) (see mikrolb serve --help)'],
    [['routeros-sim', '--port', 'x'], 'mikrolb routeros-sim: --port "x" is not a port (0-65535; 0: any free port) (see mikrolb routeros-sim --help)'],
    [['routeros-sim', '--bogus'], 'mikrolb routeros-sim: Unknown option \'--bogus\' (see mikrolb routeros-sim --help)'],
    [['uninstall'], 'mikrolb uninstall: say --router (what to uninstall from) (see mikrolb uninstall --help)'],
    [['uninstall', '--router', '--bogus'], 'mikrolb uninstall: Unknown option \'--bogus\' (see mikrolb uninstall --help)'],
    [['router'], 'mikrolb router: say what to do: dump (see mikrolb router --help)'],
    [['router', 'list'], 'mikrolb router: unknown verb "list"; expected dump (see mikrolb router --help)'],
    [['router', 'dump', 'now'], 'mikrolb router dump: unexpected argument "now" (see mikrolb router --help)'],
  ])('%j is one line on stderr, exit 2', async (argv, line) => {
    expect(await run(argv)).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
  });

  it('runs routeros-sim until its signal aborts', async () => {
    let stdout = '';
    const io = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true }, signal: AbortSignal.abort() };
    expect(await main(['routeros-sim', '--port', '0'], {}, io)).toBe(0);
    expect(stdout).toMatch(/^ROUTEROS_URL=api:\/\/127\.0\.0\.1:\d+\n$/);
  });

  it.each([
    [['controller', '--help'], /^usage: mikrolb controller\n\nBridge, functions and the IPPool webhook in one process\.\nIt is configured by environment variables/],
    [['bridge', '-h'], /^usage: mikrolb bridge\n\nWatch the cluster/],
    [['serve', 'allocate', '--help'], /^usage: mikrolb serve <allocate\|program\|release\|webhook>\n/],
    [['routeros-sim', '--port', '0', '--help'], /^usage: mikrolb routeros-sim \[--port N\][\s\S]*--seed +the router's state to start from/],
    [['router', 'dump', '--help'], /^usage: mikrolb router dump\n\nReads the router/],
    [['uninstall', '--help'], /^usage: mikrolb uninstall --router \[--dry-run\]/],
  ])('%j prints that command\'s help and exits 0, doing nothing else', async (argv, text) => {
    // no configuration at all: a command that ran would fail on it
    const ran = await run(argv);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(text);
  });

  it.each(Object.keys(SUBCOMMANDS).flatMap((name) => [[name, '--help'], [name, '-h']]))('%s %s prints its usage and exits 0, as the README promises for every command', async (name, flag) => {
    const ran = await run([name, flag]);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(new RegExp(`^usage: mikrolb ${name}\\b`));
  });

  it('invoke --help prints the invoke usage and exits 0', async () => {
    const ran = await run(['invoke', '--help']);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(/^usage: mikrolb invoke <allocate\|program\|release> --state <file\.yaml\|dir>/);
  });

  it('invoke --help names every variable an invoke reads, with the value it takes when unset', async () => {
    // What a real run looks up, through an environment that records every lookup.
    const read = new Set<string>();
    const env = new Proxy<Record<string, string | undefined>>({}, {
      get: (_, key) => {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    });
    const invoked = await run(['invoke', 'allocate', '--state', fixture('allocate', 'ipv4-auto'), '--object', 'Service/shop/web', '--quiet'], env);
    expect(invoked.code, invoked.stderr).toBe(0);
    expect([...read].sort()).toEqual(['LOAD_BALANCER_CLASS_NAME', 'LOAD_BALANCER_DEFAULT', 'MAX_ALLOCATIONS_PER_SERVICE', 'MAX_ANNOTATION_ITEMS', 'MIKROLB_CLUSTER_NAME']);

    const help = (await run(['invoke', '--help'])).stdout;
    const environment = help.slice(help.indexOf('\nEnvironment'), help.indexOf('\nExit status'));
    const listed = [...environment.matchAll(/^ {2}([A-Z][A-Z0-9_]*) +(\S+)$/gm)].map((m) => [m[1], m[2]]);
    expect(listed.map(([name]) => name).sort()).toEqual([...read].sort());
    expect(Object.fromEntries(listed)).toEqual({
      LOAD_BALANCER_CLASS_NAME: 'mikrolb.de/controller',
      LOAD_BALANCER_DEFAULT: 'false',
      MIKROLB_CLUSTER_NAME: 'default',
      MAX_ANNOTATION_ITEMS: '16',
      MAX_ALLOCATIONS_PER_SERVICE: '16',
    });
  });
});

describe('the mikrolb bin', () => {
  it('runs as the entry point and prints the same document as an in-process run', async () => {
    const args = ['invoke', 'allocate', '--state', 'test/fixtures/allocate/ipv4-auto', '--object', 'Service/shop/web'];
    const [child, inProcess] = await Promise.all([runBin(args), run([...args.slice(0, 3), fixture('allocate', 'ipv4-auto'), ...args.slice(4)])]);
    expect(child.code).toBe(0);
    expect(InvokeOutputSchema.parse(JSON.parse(child.stdout)).response.status).toBe(200);
    expect(child.stdout).toBe(inProcess.stdout);
    // the function logs on stderr, one JSON object per line
    const LogLine = z.looseObject({ level: z.string(), msg: z.string() });
    expect(child.stderr.trim().split('\n').map((l) => LogLine.parse(JSON.parse(l)).msg)).toContain('Allocated an address');
  }, 30_000);

  it('a reader that stops early (| head) ends no run with a stack trace: the work finishes, its exit status stands', async () => {
    const tmp = await scratch();
    try {
      // an output far larger than a pipe's buffer, so the writes go on after the reader left
      const services = Array.from({ length: 400 }, (_, i) => ({
        apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}`, namespace: 'shop', annotations: { note: 'x'.repeat(200) } }, spec: { type: 'ClusterIP' },
      }));
      const state = await tmp.state(services);
      const child = spawn(join(REPO, 'node_modules', '.bin', 'tsx'), ['bridge/main.ts', 'invoke', 'allocate', '--state', state, '--object', 'Service/shop/s1', '--quiet'], {
        cwd: REPO, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).toBe('');
      expect(code).toBe(0);
    } finally {
      await tmp.remove();
    }
  }, 30_000);

  it('exits 2 for a usage error, with one line on stderr', async () => {
    const child = await runBin(['invoke', 'allocate', '--state', 'test/fixtures/allocate/ipv4-auto', '--object', 'Pod/web']);
    expect(child.code).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr).toBe('mikrolb invoke: --object Pod/web: unknown kind "Pod"; expected IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice or Namespace (see mikrolb invoke --help)\n');
  }, 30_000);
});

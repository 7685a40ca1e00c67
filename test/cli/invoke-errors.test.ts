import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, invokeAllocate, run, scratch } from './support.js';

/** Exit 2: the command line or an input file is wrong, said in one line on stderr. */

let tmp: Awaited<ReturnType<typeof scratch>>;
const files: Record<string, string> = {};
beforeAll(async () => {
  tmp = await scratch();
  files['notJson'] = await tmp.file('event.json', '{ nope');
  files['array'] = await tmp.file('event.json', '[]');
  files['shapeless'] = await tmp.file('event.json', '{"type": "x"}');
  files['badType'] = await tmp.file('event.json', JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 'com.example.thing' }));
  files['badHeaders'] = await tmp.file('event.json', JSON.stringify({ headers: { 'ce-id': 7 }, body: '' }));
  files['noSpec'] = await tmp.file('event.json', JSON.stringify({ headers: { 'ce-id': '1', 'ce-source': 's', 'ce-type': 'de.mikrolb.resync' } }));
  files['routerVersion'] = await tmp.file('router.json', JSON.stringify({ version: 'seven', menus: {} }));
  files['routerMenu'] = await tmp.file('router.json', JSON.stringify({ version: '7.19.1', menus: { '/ip/nonsense': [] } }));
  files['routerProp'] = await tmp.file('router.json', JSON.stringify({ version: '7.19.1', menus: { '/ip/address': [{ address: '192.0.2.1/24', colour: 'red' }] } }));
  files['outputWithoutRouter'] = await tmp.file('1-allocated.json', JSON.stringify({ function: 'allocate', response: { status: 200, body: {} }, writes: [], events: [], objects: [] }));
  files['notRouter'] = await tmp.file('resync.json', JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 'de.mikrolb.resync' }));
  files['kindPod'] = await tmp.file('state.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n');
  files['badYaml'] = await tmp.file('state.yaml', 'kind: [unclosed\n');
  files['badJsonState'] = await tmp.file('state.json', '{"apiVersion": "v1",');
  files['badLabels'] = await tmp.file('state.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n  labels: 5\n');
  files['emptyState'] = await tmp.file('state.yaml', '');
  files['commentsOnly'] = await tmp.file('state.yaml', '# kubectl get ... > state.yaml failed\n---\n');
  files['emptyList'] = await tmp.file('state.yaml', 'apiVersion: v1\nkind: List\nitems: []\n');
  files['routerOnly'] = tmp.dir('router-only');
  await writeFile(join(files['routerOnly'], 'router.json'), JSON.stringify({ version: '7.19.1', menus: { '/ip/address': [] } }));
  files['portsString'] = await tmp.file('state.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  type: LoadBalancer\n  ports: "80"\n');
  files['addressesNumber'] = await tmp.file('state.yaml', [
    'apiVersion: mikrolb.de/v1alpha1', 'kind: IPPool', 'metadata:', '  name: main', 'spec:', '  ipFamily: IPv4', '  addresses: [192.0.2.0/24]',
    '---', 'apiVersion: mikrolb.de/v1alpha1', 'kind: IPPool', 'metadata:', '  name: lab', 'spec:', '  ipFamily: IPv4', '  addresses: 5', '',
  ].join('\n'));
  files['portNumberString'] = await tmp.file('state.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  type: LoadBalancer\n  ports:\n  - port: "80"\n');
});
afterAll(async () => {
  await tmp.remove();
});

const STATE = fixture('allocate', 'ipv4-auto');
const OBJ = ['--object', 'Service/shop/web'];

describe('mikrolb invoke usage errors (exit 2)', () => {
  it.each<[string, () => string[], string | RegExp]>([
    ['no function', () => ['--state', STATE, ...OBJ], 'name the function to invoke: allocate, program or release'],
    ['an unknown function', () => ['frob', '--state', STATE, ...OBJ], 'unknown function "frob"; expected allocate, program, release'],
    ['program without a router', () => ['program', '--state', STATE, ...OBJ], 'program talks to a router: give --router router.json'],
    ['release without a router', () => ['release', '--state', STATE, ...OBJ], 'release talks to a router: give --router router.json'],
    ['an extra argument', () => ['allocate', 'again', '--state', STATE, ...OBJ], 'unexpected argument "again"'],
    // node's own message goes on with a hint on positionals starting with '-' (its quotes unbalanced)
    ['an unknown flag', () => ['allocate', '--state', STATE, ...OBJ, '--bogus'], 'Unknown option \'--bogus\''],
    ['an unknown short flag', () => ['allocate', '--state', STATE, ...OBJ, '-x'], 'Unknown option \'-x\''],
    ['a flag without value', () => ['allocate', '--state', STATE, '--object'], /Option '--object <value>' argument missing/],
    ['no --state', () => ['allocate', ...OBJ], '--state <file.yaml|dir> is required'],
    ['--state twice', () => ['allocate', '--state', STATE, '--state', STATE, ...OBJ], '--state is given 2 times; give it once'],
    ['neither --object nor --event', () => ['allocate', '--state', STATE], 'give exactly one of --object Kind/[namespace/]name or --event event.json'],
    ['both --object and --event', () => ['allocate', '--state', STATE, ...OBJ, '--event', 'e.json'], 'give exactly one of --object Kind/[namespace/]name or --event event.json'],
    ['an unknown kind', () => ['allocate', '--state', STATE, '--object', 'Pod/web'], '--object Pod/web: unknown kind "Pod"; expected IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice or Namespace'],
    ['a kind without name', () => ['allocate', '--state', STATE, '--object', 'Service'], '--object Service: expected Kind/name or Kind/namespace/name'],
    ['too many parts', () => ['allocate', '--state', STATE, '--object', 'Service/a/b/c'], '--object Service/a/b/c: expected Kind/name or Kind/namespace/name'],
    ['an empty part', () => ['allocate', '--state', STATE, '--object', 'Service//web'], '--object Service//web: expected Kind/name or Kind/namespace/name'],
    ['a namespace on a cluster-scoped kind', () => ['allocate', '--state', STATE, '--object', 'IPPool/shop/main'], '--object IPPool/shop/main: IPPool is cluster-scoped; use IPPool/name'],
    ['a missing state', () => ['allocate', '--state', '/nonexistent/state.yaml', ...OBJ], /^--state: cannot read the state \/nonexistent\/state\.yaml: ENOENT/],
    ['a kind the state cannot hold', () => ['allocate', '--state', files['kindPod'] ?? '', ...OBJ], /kind Pod is not one of IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice, Namespace$/],
    ['state that is not YAML', () => ['allocate', '--state', files['badYaml'] ?? '', ...OBJ], /^--state: .*document 1: /],
    // the YAML library's message goes on after a colon with the source lines: the line ends at the position
    ['JSON state cut short', () => ['allocate', '--state', files['badJsonState'] ?? '', ...OBJ], /^--state: \S+state\.json document 1: Flow map must end with a \} at line 1, column 21$/],
    ['metadata of the wrong type', () => ['allocate', '--state', files['badLabels'] ?? '', ...OBJ],
      /^--state: \S+state\.yaml document 1: metadata\.labels: Invalid input: expected record, received number$/],
    ['an empty state file', () => ['allocate', '--state', files['emptyState'] ?? '', ...OBJ], /^--state: \S+state\.yaml holds no objects: it is empty \(an empty state is a List with items: \[\]\)$/],
    ['a state file of comments only', () => ['allocate', '--state', files['commentsOnly'] ?? '', ...OBJ], /^--state: \S+state\.yaml holds no objects: it is empty \(an empty state is a List with items: \[\]\)$/],
    ['a state folder without state files', () => ['allocate', '--state', tmp.dir('empty'), ...OBJ], /^--state: \S+empty holds no \*\.yaml, \*\.yml or \*\.json file$/],
    // a folder of the fixtures' layout whose state.yaml was left out: not an empty cluster
    ['a state folder holding only a router\'s state', () => ['allocate', '--state', files['routerOnly'] ?? '', ...OBJ],
      /^--state: \S+router-only holds no Kubernetes objects, only a router's state \(for --router\); an empty state is a List with items: \[\]$/],
    // the API server never holds a field of the wrong type: the input is wrong, not the function (exit 1, a 500)
    ['a Service whose ports are a string', () => ['allocate', '--state', files['portsString'] ?? '', ...OBJ],
      /^--state: \S+state\.yaml document 1: Service shop\/web: spec\.ports: Invalid input: expected array, received string$/],
    ['a pool whose addresses are a number', () => ['allocate', '--state', files['addressesNumber'] ?? '', ...OBJ],
      /^--state: \S+state\.yaml document 2: IPPool lab: spec\.addresses: Invalid input: expected array, received number$/],
    ['a port given as a string', () => ['allocate', '--state', files['portNumberString'] ?? '', ...OBJ],
      /^--state: \S+state\.yaml document 1: Service shop\/web: spec\.ports\.0\.port: Invalid input: expected number, received string$/],
    ['a missing event file', () => ['allocate', '--state', STATE, '--event', '/nonexistent/e.json'], /^cannot read --event \/nonexistent\/e\.json: ENOENT/],
    ['an event that is not JSON', () => ['allocate', '--state', STATE, '--event', files['notJson'] ?? ''], /--event .* is not JSON: /],
    ['an event that is not an object', () => ['allocate', '--state', STATE, '--event', files['array'] ?? ''], /--event .* must hold a JSON object$/],
    ['an event of neither form', () => ['allocate', '--state', STATE, '--event', files['shapeless'] ?? ''], /is neither a structured CloudEvent \(with "specversion"\) nor \{"headers": \.\.\., "body": \.\.\.\}$/],
    ['an event of a foreign type', () => ['allocate', '--state', STATE, '--event', files['badType'] ?? ''], /: unsupported event type "com\.example\.thing"; expected dev\.knative\.apiserver\.resource\./],
    ['binary headers that are not strings', () => ['allocate', '--state', STATE, '--event', files['badHeaders'] ?? ''], /: headers must map header names to strings$/],
    ['a binary event without specversion', () => ['allocate', '--state', STATE, '--event', files['noSpec'] ?? ''], /: CloudEvent attribute "specversion" is missing$/],
    ['a missing router file', () => ['allocate', '--state', STATE, ...OBJ, '--router', '/nonexistent/r.json'], /^cannot read --router /],
    ['a router with a bad version', () => ['allocate', '--state', STATE, ...OBJ, '--router', files['routerVersion'] ?? ''], /: version: version must look like 7\.19\.1$/],
    ['a router with an unknown menu', () => ['allocate', '--state', STATE, ...OBJ, '--router', files['routerMenu'] ?? ''], /: unknown menu \/ip\/nonsense$/],
    ['an earlier output made without --router', () => ['program', '--state', STATE, ...OBJ, '--router', files['outputWithoutRouter'] ?? ''],
      /^--router \S+1-allocated\.json is the output of a run without --router: it holds no router state; give a router's state \{"version": "7\.19\.1", "menus": \{\.\.\.\}\} \(mikrolb router dump\) or the output of a run with --router$/],
    ['a JSON file that is no router state', () => ['program', '--state', STATE, ...OBJ, '--router', files['notRouter'] ?? ''],
      /^--router \S+resync\.json is not a router's state \{"version": "7\.19\.1", "menus": \{\.\.\.\}\}: it has neither "version" nor "menus"$/],
    ['a router entry with an unknown property', () => ['allocate', '--state', STATE, ...OBJ, '--router', files['routerProp'] ?? ''], /: \/ip\/address\[0\]: \/ip\/address has no property colour$/],
  ])('%s', async (_what, argv, message) => {
    const ran = await run(['invoke', ...argv()]);
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe('');
    const [line, ...more] = ran.stderr.split('\n');
    expect(more).toEqual(['']); // exactly one line
    expect(line).toMatch(/^mikrolb invoke: .* \(see mikrolb invoke --help\)$/);
    const text = (line ?? '').replace(/^mikrolb invoke: /, '').replace(/ \(see mikrolb invoke --help\)$/, '');
    if (typeof message === 'string') expect(text).toBe(message);
    else expect(text).toMatch(message);
  });

  it.each([
    ['LOAD_BALANCER_DEFAULT', 'maybe', 'mikrolb invoke: LOAD_BALANCER_DEFAULT="maybe" must be true or false\n'],
    ['LOAD_BALANCER_CLASS_NAME', 'not a class!', 'mikrolb invoke: LOAD_BALANCER_CLASS_NAME="not a class!" must look like mikrolb.de/controller\n'],
    ['MAX_ANNOTATION_ITEMS', '0', 'mikrolb invoke: MAX_ANNOTATION_ITEMS="0" must be at least 1\n'],
    ['MAX_ALLOCATIONS_PER_SERVICE', '2.5', 'mikrolb invoke: MAX_ALLOCATIONS_PER_SERVICE="2.5" must be a whole number\n'],
  ])('a bad %s names the variable', async (name, value, stderr) => {
    expect(await run(['invoke', 'allocate', '--state', STATE, ...OBJ], { [name]: value })).toEqual({ code: 2, stdout: '', stderr });
  });
});

describe('an empty state said so', () => {
  it('runs a List without items, as kubectl prints an empty cluster', async () => {
    const { ran, out } = await invokeAllocate(files['emptyList'] ?? '', ...OBJ);
    expect(ran.code).toBe(0);
    expect(out.objects).toEqual([]);
  });
});

describe('mikrolb invoke when the function fails (exit 1)', () => {
  it('answers an object the schema refuses with a 500 and still prints the document', async () => {
    const state = await tmp.file('state.yaml', [
      'apiVersion: mikrolb.de/v1alpha1', 'kind: IPAllocation', 'metadata:', '  name: both', 'spec:', '  poolName: main', '  address: 192.0.2.1', '',
    ].join('\n'));
    const { ran, out } = await invokeAllocate(state, '--object', 'IPAllocation/both');
    expect(ran.code).toBe(1);
    expect(out.response).toEqual({
      status: 500,
      body: {
        function: 'allocate', actions: [], conflicts: 0,
        error: expect.stringMatching(/^IPAllocation both does not match the expected schema: spec: Only one of ipFamily, poolName or address can be specified$/),
      },
    });
    expect(out.writes).toEqual([]);
    expect(out.objects).toHaveLength(1);
  });
});

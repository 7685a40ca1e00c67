import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, run, scratch } from '../cli/support.js';
import { bounded, type Tally } from './support.js';

/**
 * Fixture files for `mikrolb invoke`, run in process: each bad file is exit 2 with one line on
 * stderr naming the file and the problem, nothing on stdout, and the file left as it was.
 */

const STATE = fixture('allocate', 'ipv4-auto');
const OBJECT = ['--object', 'Service/shop/web'];

/** [story, file name, file text, flag the file goes to, message part] */
type CliCase = [string, string, string, '--state' | '--router' | '--event', RegExp];

const CASES: CliCase[] = [
  ['state that is not YAML', 'state.yaml', 'kind: [unclosed\n', '--state', /document 1: Flow sequence in block collection/],
  ['a second document that is not YAML', 'state.yaml', 'apiVersion: v1\n---\n: : :\n', '--state', /document 2: Nested mappings are not allowed/],
  ['a kind the state cannot hold', 'state.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n', '--state', /document 1: kind Pod is not one of IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice, Namespace$/],
  ['an object without metadata.name', 'state.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  namespace: shop\nspec:\n  type: LoadBalancer\n', '--state', /document 1: metadata\.name: Invalid input: expected string, received undefined$/],
  ['aliases that expand without bound', 'state.yaml', `a: &a [x, x, x, x, x, x, x, x, x]\n${[...'bcdefgh'].map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdefgh'[i] ?? 'a'}`).join(', ')}]`).join('\n')}\n`, '--state', /document 1: Excessive alias count indicates a resource exhaustion attack$/],
  ['a document that is a list', 'state.yaml', '- a\n- b\n', '--state', /document 1: the document: Invalid input: expected object, received array$/],
  ['a router with a bad version', 'router.json', '{"version": "seven", "menus": {}}', '--router', /: version: version must look like 7\.19\.1$/],
  ['a router version that is a number', 'router.json', '{"version": 7.19, "menus": {}}', '--router', /: version: Invalid input: expected string, received number$/],
  ['a router value that is a boolean', 'router.json', '{"version": "7.19.1", "menus": {"/ip/address": [{"address": "192.0.2.1/24", "interface": "ether1", "disabled": false}]}}', '--router', /: menus\.\/ip\/address\.0\.disabled: Invalid input: expected string, received boolean$/],
  ['a router value that is a number', 'router.json', '{"version": "7.19.1", "menus": {"/ip/address": [{"address": 42}]}}', '--router', /: menus\.\/ip\/address\.0\.address: Invalid input: expected string, received number$/],
  ['a router file that is not JSON', 'router.json', '{nope', '--router', / is not JSON: /],
  ['a router file that is an array', 'router.json', '[]', '--router', /: Invalid input: expected object, received array$/],
  ['an empty event file', 'event.json', '', '--event', / is not JSON: Unexpected end of JSON input$/],
];

export function invokeCases(count: Tally): void {
  count.add('invoke fixtures', CASES.length);

  describe('mikrolb invoke fixtures: exit 2 with one line, files untouched', () => {
    let tmp: Awaited<ReturnType<typeof scratch>>;
    beforeAll(async () => {
      tmp = await scratch();
    });
    afterAll(async () => {
      await tmp.remove();
    });

    it.each(CASES)('%s', async (_story, name, text, flag, message) => {
      const path = await tmp.file(name, text);
      const argv = flag === '--state' ? ['--state', path, ...OBJECT] : flag === '--router' ? ['--state', STATE, ...OBJECT, '--router', path] : ['--state', STATE, '--event', path];
      const ran = await bounded('mikrolb invoke', 10_000, run(['invoke', 'allocate', ...argv, '--quiet']));
      expect(ran.code).toBe(2);
      expect(ran.stdout).toBe('');
      const [line, ...rest] = ran.stderr.split('\n');
      expect(rest).toEqual(['']);
      expect(line).toMatch(/^mikrolb invoke: .* \(see mikrolb invoke --help\)$/);
      expect(line?.replace(/ \(see mikrolb invoke --help\)$/, '')).toMatch(message);
      expect(line).toContain(path);
      expect(await readFile(path, 'utf8')).toBe(text);
    });
  });
}

import { describe, expect, it } from 'vitest';
import { docNames, matches, withoutForeignColumns } from './doc-names.js';

const names = (md: string) => docNames('x.md', md);

describe('what counts as named in the docs', () => {
  it('ignores the cells of a column about another product, keeps the rest of the table', () => {
    const md = ['| | upstream MikroLB | this MikroLB |', '| --- | --- | --- |', '| settings | `METRICS_ADDR` | `BRIDGE_PORT` |', '', 'after: `LEASE_NAME`'].join('\n');
    expect(withoutForeignColumns(md)).not.toContain('METRICS_ADDR');
    expect(names(md).env.map((e) => e.name)).toEqual(['BRIDGE_PORT', 'LEASE_NAME']);
  });

  it('finds mikrolb commands with their flags, in spans and fenced blocks, and nothing that merely says mikrolb', () => {
    const md = [
      'Run `mikrolb uninstall --router [--dry-run]` or:',
      '```sh',
      'ROUTEROS_URL=… npm run mikrolb -- invoke allocate --state s.yaml --object Service/a/b -h  # comment --not-a-flag',
      '/user/group/set mikrolb policy=api,read,write',
      '/user/add name=mikrolb group=mikrolb',
      'kubectl -n mikrolb-system logs deploy/mikrolb-controller --tail 5',
      '```',
      'comments `mikrolb:svc=<uid>:<key>`, `mikrolb serve <allocate\\|program>`',
    ].join('\n');
    expect(names(md).commands.map((c) => [c.command, c.flags])).toEqual([
      ['uninstall', ['--router', '--dry-run']],
      ['invoke', ['--state', '--object', '-h']],
      ['serve', []],
    ]);
  });

  it('claims variables only for SNAKE_CASE words, $NAME, NAME= and NAME_* families', () => {
    const md = '`GET /healthz`, `PORT(S)`, `$PORT`, `KUBECONFIG=/tmp/k`, `FUNCTION_URL_*`, `-----BEGIN CERTIFICATE-----`, `LEASE_NAME`';
    expect(names(md).env.map((e) => [e.name, e.prefix, e.claimed])).toEqual([
      ['GET', false, false], ['PORT', false, false], ['S', false, false], ['PORT', false, true], ['KUBECONFIG', false, true],
      ['FUNCTION_URL_', true, true], ['LEASE_NAME', false, true],
    ]);
  });

  it('finds annotation keys and families anywhere, but not names that merely contain the domain', () => {
    const md = 'Set mikrolb.de/snat-ips. Any `mikrolb.de/*` or `metallb.io/loadBalancerIPs`; not ippools.mikrolb.de, `mikrolb.de` alone or `apiVersion: metallb.io/v1beta1`.';
    const keys = names(md).keys;
    expect(keys.map((k) => [k.name, k.prefix])).toEqual([['mikrolb.de/snat-ips', false], ['mikrolb.de/', true], ['metallb.io/loadBalancerIPs', false]]);
    expect(matches(keys[1] ?? { name: '', prefix: false, claimed: true, where: '' }, ['mikrolb.de/finalizer'])).toBe(true);
    expect(matches(keys[0] ?? { name: '', prefix: false, claimed: true, where: '' }, ['mikrolb.de/snat-ip'])).toBe(false);
  });
});

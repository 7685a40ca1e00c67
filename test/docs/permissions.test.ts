/**
 * deploy/README.md's "Permissions" table says what each ServiceAccount may do, for operators who
 * review the grants before installing; it must say what deploy/'s ClusterRoles grant, no more
 * and no less (test/deploy/rbac.test.ts checks the grants themselves against the code's needs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** resource → verbs, each as `resource verb` for readable differences. */
type Grants = Set<string>;

const RuleSchema = z.object({ resources: z.array(z.string()), verbs: z.array(z.string()), resourceNames: z.array(z.string()).optional() });
const RoleSchema = z.object({ kind: z.enum(['ClusterRole', 'Role']), metadata: z.object({ name: z.string() }), rules: z.array(RuleSchema) });

/** The (Cluster)Roles of the YAML files, by name: `resource verb`, `resource verb name` for a rule limited to names. */
function rolesIn(files: readonly string[]): Map<string, Grants> {
  const roles = new Map<string, Grants>();
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'))) {
      const role = RoleSchema.safeParse(doc.toJS());
      if (!role.success) continue;
      const grants = roles.get(role.data.metadata.name) ?? new Set<string>();
      for (const rule of role.data.rules) {
        for (const resource of rule.resources) {
          for (const verb of rule.verbs) {
            for (const name of rule.resourceNames ?? ['']) grants.add(`${resource} ${verb}${name ? ` ${name}` : ''}`);
          }
        }
      }
      roles.set(role.data.metadata.name, grants);
    }
  }
  return roles;
}

/**
 * A "may" cell as grants: `;`- and `,`-separated parts, parenthesised remarks dropped; a part
 * `resource verb/verb` grants those verbs, a bare `resource` takes the verbs of the next part
 * that has some (`ippools, services list/watch`).
 */
export function grantsOf(cell: string): Grants {
  const grants: Grants = new Set();
  let pending: string[] = [];
  const plain = cell.replace(/\([^()]*\)/g, '').replace(/`/g, '');
  for (const part of plain.split(/[;,]/).map((p) => p.trim()).filter((p) => p !== '')) {
    const [resource = '', verbs, ...rest] = part.split(/\s+/);
    if (rest.length > 0) throw new Error(`cannot read "${part}" of "${cell}"`);
    if (verbs === undefined) {
      pending.push(resource);
      continue;
    }
    for (const r of [...pending, resource]) for (const verb of verbs.split('/')) grants.add(`${r} ${verb}`);
    pending = [];
  }
  if (pending.length > 0) throw new Error(`no verbs for ${pending.join(', ')} in "${cell}"`);
  return grants;
}

/** The rows of the table under `## Permissions`: ServiceAccount → its "may" cell. */
function permissionsTable(markdown: string): Map<string, string> {
  const heading = '\n## Permissions\n';
  const at = markdown.indexOf(heading);
  const rows = new Map<string, string>();
  if (at < 0) return rows;
  for (const line of markdown.slice(at + heading.length).split('\n')) {
    if (/^#{1,2} /.test(line)) break;
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const account = /^`(mikrolb-[a-z-]+)`$/.exec(cells[1] ?? '')?.[1];
    if (account !== undefined) rows.set(account, cells[3] ?? '');
  }
  return rows;
}

const sorted = (g: Grants): string[] => [...g].sort();
const union = (...gs: Grants[]): Grants => new Set(gs.flatMap((g) => [...g]));

describe('reading the table (the check itself can fail)', () => {
  it('reads shared verbs, remarks and several grants of one resource', () => {
    expect(sorted(grantsOf('ippools get/list (a remark, with commas; and more), ippools/status update; services, `endpointslices` list/watch'))).toEqual([
      'endpointslices list', 'endpointslices watch', 'ippools get', 'ippools list', 'ippools/status update', 'services list', 'services watch',
    ]);
    expect(() => grantsOf('ippools list, services')).toThrow(/no verbs for services/);
  });
});

describe('deploy/README.md, Permissions', () => {
  const table = permissionsTable(readFileSync(join(ROOT, 'deploy/README.md'), 'utf8'));
  const base = readdirSync(join(ROOT, 'deploy/base')).filter((f) => f.startsWith('rbac-')).map((f) => `deploy/base/${f}`);
  const roles = rolesIn([...base, 'deploy/overlays/knative-eventing/source-rbac.yaml']);
  const role = (name: string): Grants => roles.get(name) ?? new Set();

  it('has a row for every ServiceAccount of deploy/', () => {
    expect([...table.keys()].sort()).toEqual(['mikrolb-allocate', 'mikrolb-bridge', 'mikrolb-controller', 'mikrolb-events', 'mikrolb-program', 'mikrolb-release', 'mikrolb-webhook']);
  });

  it.each(['mikrolb-allocate', 'mikrolb-program', 'mikrolb-release', 'mikrolb-webhook', 'mikrolb-events'])('%s: exactly what its ClusterRole grants', (account) => {
    expect(sorted(grantsOf(table.get(account) ?? ''))).toEqual(sorted(role(account)));
  });

  it('mikrolb-bridge: its ClusterRole, and the leader-election Role (leases create; get and update of its own Lease)', () => {
    const cell = table.get('mikrolb-bridge') ?? '';
    const [cluster = '', lease = ''] = cell.split(/;\s*(?=leases )/);
    expect(sorted(grantsOf(cluster))).toEqual(sorted(role('mikrolb-bridge')));
    expect(lease).toMatch(/^leases create, and get\/update of its own Lease `mikrolb-bridge`, in mikrolb-system$/);
    expect(sorted(role('mikrolb-leader-election'))).toEqual(['leases create', 'leases get mikrolb-bridge', 'leases update mikrolb-bridge']);
  });

  it('mikrolb-controller: the union of the others (the bridge\'s watches included), without tokenreviews', () => {
    expect(table.get('mikrolb-controller')).toMatch(/^the union of the rows below, plus watch \(not tokenreviews/);
    const others = union(...['mikrolb-allocate', 'mikrolb-program', 'mikrolb-release', 'mikrolb-webhook', 'mikrolb-bridge'].map(role));
    expect(sorted(role('mikrolb-controller'))).toEqual(sorted(others).filter((g) => !g.startsWith('tokenreviews ')));
  });
});

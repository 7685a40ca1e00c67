import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { memoryPort } from '../../lib/k8s/memory.js';
import { IPAllocationSchema, IPPoolSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import type { RouterState } from '../../lib/router/state.js';
import { createAllocate } from '../../functions/allocate/handler.js';
import { createProgram } from '../../functions/program/handler.js';

/**
 * docs/debugging.md shows the `BackendError` messages a user meets as program words them: the
 * allocation's Ready message after a real program run against the RouterOS simulator must be
 * one of the backticked sentences of the section `### \`BackendError\``.
 */

const DOC = readFileSync(join(fileURLToPath(new URL('../../', import.meta.url)), 'docs/debugging.md'), 'utf8');

function backendErrorSentences(): string[] {
  const heading = '\n### `BackendError`';
  const rest = DOC.slice(DOC.indexOf(heading) + heading.length);
  const section = rest.slice(0, rest.search(/\n#{1,3} /));
  return [...section.matchAll(/`([^`]+)`/g)].map((m) => (m[1] ?? '').replace(/\s+/g, ' ').trim());
}

/** A router with one LAN, 192.0.2.0/24 on ether1, and no other route. */
const ROUTER: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }],
    '/ip/address': [{ '.id': '*10', address: '192.0.2.1/24', interface: 'ether1' }],
  },
};
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const NOW = () => new Date('2026-01-01T00:00:00Z');
const RETRY = { attempts: 5, pause: async () => undefined };

/**
 * The Ready message of a reservation of `address` in a pool with `interfaceName`, after allocate
 * and program ran; with `movedTo`, after the address was programmed and its pool's interface
 * then changed to `movedTo` (`''`: taken away), and program ran again.
 */
async function readyMessage(address: string, interfaceName?: string, movedTo?: string): Promise<string | undefined> {
  const sim = await startSim({ initialState: ROUTER });
  const kube = memoryPort({
    now: NOW,
    objects: [
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] }, status: { claimsAdopted: true },
        spec: { ipFamily: 'IPv4', addresses: [address], autoAssign: false, avoidBuggyIPs: true, advertise: true, ...(interfaceName ? { interfaceName } : {}) } },
      { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved' }, spec: { address } },
    ],
  });
  const ref = { kind: 'IPAllocation' as const, name: 'reserved' };
  await createAllocate({ kube: kube.port, now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES })(objectInvocation('add', ref));
  const program = createProgram({ kube: kube.port, router: openClient(sim, { timeoutMs: 5000 }), classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY });
  await program(objectInvocation('update', ref));
  if (movedTo !== undefined) {
    const pool = IPPoolSchema.parse(await kube.port.get('IPPool', 'lan'));
    const { interfaceName: _before, ...spec } = pool.spec;
    await kube.port.replace('IPPool', { ...pool, spec: movedTo === '' ? spec : { ...spec, interfaceName: movedTo } });
    await program(objectInvocation('update', ref));
  }
  const a = IPAllocationSchema.parse(await kube.port.get('IPAllocation', 'reserved'));
  const ready = a.status?.conditions?.find((c) => c.type === 'Ready');
  expect(ready).toMatchObject({ status: 'False', reason: 'BackendError' });
  return ready?.message;
}

describe('docs/debugging.md shows the BackendError messages program words', () => {
  it('the router refusing a write (an interface it does not have)', async () => {
    expect(backendErrorSentences()).toContain(await readyMessage('192.0.2.10', 'ether99'));
  });

  it('the router refusing to move an advertised address to an interface it does not have', async () => {
    expect(backendErrorSentences()).toContain(await readyMessage('192.0.2.10', 'ether1', 'ether99'));
  });

  it('an address the router has no route to (no interfaceName on the pool)', async () => {
    expect(backendErrorSentences()).toContain(await readyMessage('198.51.100.10'));
  });

  it('an advertised address the router has no route to once its pool names no interface', async () => {
    expect(backendErrorSentences()).toContain(await readyMessage('198.51.100.10', 'ether1', ''));
  });
});

import { createAllocate } from '../../functions/allocate/handler.js';
import { createProgramApp } from '../../functions/program/app.js';
import { createRelease } from '../../functions/release/handler.js';
import { CLAIM_GRACE_MS } from '../../functions/registry.js';
import type { ProgramDeps } from '../../functions/program/deps.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { answerOf } from '../../lib/events/outcome.js';
import type { FunctionHandler, ObjectRef } from '../../lib/events/invocation.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { defaultPause } from '../../lib/k8s/conflict.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { connectRouter, type RouterClient } from '../../lib/routeros/client/index.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { allocateDeps, CLASSES } from '../allocate/setup.js';
import { testCluster } from '../helpers/cluster.js';
import { serveFunction, type FunctionClient } from '../helpers/functions.js';

/** A router as a small office would have it, with foreign rules MikroLB must never touch. */
export const SEED: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [
      { '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'ether2', type: 'ether' },
      { '.id': '*3', name: 'bridge', type: 'bridge' },
    ],
    '/ip/address': [
      { '.id': '*10', address: '198.18.40.1/24', interface: 'ether1' },
      { '.id': '*11', address: '10.244.0.1/16', interface: 'bridge' },
    ],
    '/ipv6/address': [
      { '.id': '*12', address: '2001:db8:4040::1/64', interface: 'ether1', advertise: 'false' },
      { '.id': '*13', address: 'fd00:244::1/64', interface: 'bridge', advertise: 'false' },
    ],
    '/ip/firewall/nat': [
      { '.id': '*20', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'defconf: masquerade' },
      { '.id': '*21', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-port': '2222', 'to-addresses': '10.244.9.9', 'to-ports': '22', comment: 'my mikrolb notes: ssh forward' },
    ],
    '/ip/firewall/filter': [
      { '.id': '*30', chain: 'input', action: 'accept', 'connection-state': 'established,related', comment: 'defconf: accept established' },
      { '.id': '*31', chain: 'forward', action: 'drop', 'connection-state': 'invalid', comment: 'mikrolb-old leftover, not ours' },
    ],
    '/ip/firewall/address-list': [{ '.id': '*40', list: 'trusted', address: '10.244.0.0/16', comment: 'mikrolb' }],
  },
};

export interface Stack {
  sim: RouterSim;
  router: RouterClient;
  program: FunctionClient;
  allocate: (ref: ObjectRef) => Promise<number>;
  /** The allocate and release functions in process, for any invocation (resyncs too). */
  functions: { allocate: FunctionHandler; release: FunctionHandler };
  logs: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
}

/** The real API server, the RouterOS simulator, the client adapter, and program over HTTP. */
export async function startStack(seed: RouterState = SEED): Promise<Stack> {
  const { transport } = testCluster();
  const kube = apiServerPort(transport);
  const sim = await startRouterSim({ initialState: seed, users: [{ name: 'mikrolb', password: 's3cret' }] });
  const router = connectRouter({ url: sim.url, username: 'mikrolb', password: 's3cret', timeoutMs: 2000 });
  const logs = memoryLogger();
  const deps: ProgramDeps = { kube, router, classes: CLASSES, now: () => new Date(), log: logs, retry: { attempts: 20, pause: defaultPause() } };
  const program = await serveFunction(createProgramApp(deps));
  const alloc = createAllocate(allocateDeps(kube));
  // the product's grace: the API server is shared with other files, whose claims a resync with
  // no grace may collect just after they are made
  const release = createRelease({ kube, router, classes: CLASSES, now: () => new Date(), log: logs, retry: { attempts: 20, pause: defaultPause() }, claimGraceMs: CLAIM_GRACE_MS });
  return {
    sim, router, program, logs,
    functions: { allocate: alloc, release },
    allocate: async (ref) => answerOf(await alloc(objectInvocation('update', ref))).status,
    close: async () => {
      await program.close();
      await router.close();
      await sim.close();
    },
  };
}

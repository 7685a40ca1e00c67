/**
 * One allocate instance in its own process, for the concurrency proof: it invokes the
 * allocate handler for every allocation name it is given (in the given order) and prints
 * one JSON line of figures: resourceVersion conflicts retried, and claims whose create found
 * the address taken (AlreadyExists: another instance claimed it first).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createAllocate } from '../../functions/allocate/handler.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { answerOf } from '../../lib/events/outcome.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { defaultPause } from '../../lib/k8s/conflict.js';
import { isAlreadyExists } from '../../lib/k8s/errors.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { silentLogger } from '../../lib/log/logger.js';

const [kubeconfig, namesJson] = process.argv.slice(2);
if (!kubeconfig || !namesJson) throw new Error('usage: concurrency-worker KUBECONFIG NAMES_JSON');
const names: unknown = JSON.parse(namesJson);
if (!Array.isArray(names)) throw new Error('names must be a JSON array');
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
let conflicts = 0;
let taken = 0;
const port = apiServerPort(kubeTransport(kc));
const kube: KubePort = {
  ...port,
  create: async (kind, obj) => {
    try {
      return await port.create(kind, obj);
    } catch (e) {
      if (kind === 'IPAddressClaim' && isAlreadyExists(e)) taken++;
      throw e;
    }
  },
};
const handler = createAllocate({
  kube,
  classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
  now: () => new Date(),
  log: silentLogger(),
  retry: { attempts: 200, pause: defaultPause() },
  onConflict: () => conflicts++,
});
// A "retry later" answer (409: say, every candidate address was taken meanwhile) is delivered
// again after a pause, as the bridge does; the last answer of each event is counted.
const statuses: Record<string, number> = {};
let retriedLater = 0;
for (const name of names) {
  let res = answerOf(await handler(objectInvocation('update', { kind: 'IPAllocation', name: String(name) })));
  for (let again = 1; res.status === 409 && again <= 20; again++) {
    retriedLater++;
    await new Promise((r) => setTimeout(r, 50 * again));
    res = answerOf(await handler(objectInvocation('update', { kind: 'IPAllocation', name: String(name) })));
  }
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
}
process.stdout.write(`${JSON.stringify({ invocations: names.length, conflicts, taken, retriedLater, statuses })}\n`);

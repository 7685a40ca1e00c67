import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startCluster, freePort, type TestCluster } from '../cluster/cluster.js';
import { issueServingCert } from '../cluster/pki.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { isAlreadyExists } from '../../lib/k8s/errors.js';
import { EXIT_FAILED, type Command } from '../../lib/cli/io.js';
import { messageOf } from '../../lib/errors.js';
import { untilStopped } from '../../lib/cli/runtime.js';
import { createLogger, type Logger } from '../../lib/log/logger.js';
import { connectRouter } from '../../lib/routeros/client/index.js';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import type { RouterState } from '../../lib/router/state.js';
import { startController, type Controller } from '../../bridge/all-in-one.js';

/** The simulated router of the local stack: an uplink with documentation addresses. */
const LOCAL_ROUTER: RouterState = {
  version: '7.19.1',
  menus: {
    '/interface': [{ '.id': '*1', name: 'ether1', type: 'ether' }, { '.id': '*2', name: 'bridge', type: 'bridge' }],
    '/ip/address': [{ '.id': '*A', address: '198.51.100.1/24', interface: 'ether1' }, { '.id': '*B', address: '10.244.0.1/16', interface: 'bridge' }],
    '/ipv6/address': [{ '.id': '*C', address: '2001:db8:100::1/64', interface: 'ether1', advertise: 'false' }],
    '/ip/firewall/nat': [{ '.id': '*D', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1', comment: 'defconf: masquerade' }],
  },
};

const SAMPLE_POOLS = [
  { name: 'local-v4', spec: { ipFamily: 'IPv4', addresses: ['198.51.100.100-198.51.100.199'] } },
  { name: 'local-v6', spec: { ipFamily: 'IPv6', addresses: ['2001:db8:100::100-2001:db8:100::1ff'] } },
];

interface Stack {
  cluster: TestCluster;
  sim: RouterSim;
  controller: Controller;
  password: string;
  stop(): Promise<void>;
}

async function registerWebhook(cluster: TestCluster, port: number): Promise<void> {
  const ca = (await readFile(cluster.pki.caCert)).toString('base64');
  const config = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'mikrolb-ippool-validation' },
    webhooks: [{
      name: 'ippools.mikrolb.de', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5,
      clientConfig: { url: `https://127.0.0.1:${port}/validate-ippool`, caBundle: ca },
      rules: [{ apiGroups: ['mikrolb.de'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['ippools'] }],
    }],
  };
  const applied = await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(config));
  if (applied.code !== 0) throw new Error(`registering the webhook failed: ${applied.stderr}`);
}

async function startStack(log: Logger): Promise<Stack> {
  const cluster = await startCluster({ log: (line) => log.info(line) });
  const password = randomBytes(9).toString('base64url');
  const sim = await startRouterSim({ initialState: LOCAL_ROUTER, users: [{ name: 'mikrolb', password }] });
  const certDir = join(cluster.dir, 'webhook-certs');
  await mkdir(certDir, { recursive: true });
  const issued = await issueServingCert(cluster.dir, 'mikrolb-webhook');
  await Promise.all([copyFile(issued.cert, join(certDir, 'tls.crt')), copyFile(issued.key, join(certDir, 'tls.key'))]);
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const router = connectRouter({ url: sim.url, username: 'mikrolb', password, log });
  const controller = await startController({
    kc, router, log, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: true },
    bridge: { port: await freePort(), hostname: '127.0.0.1', lease: { enabled: false }, resyncIntervalMs: 60_000 },
    webhook: { certDir, port: await freePort(), hostname: '127.0.0.1' },
  });
  await controller.bridge.ready;
  if (controller.webhookPort) await registerWebhook(cluster, controller.webhookPort);
  const kube = apiServerPort(kubeTransport(kc));
  for (const p of SAMPLE_POOLS) {
    try {
      await kube.create('IPPool', { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: p.name }, spec: p.spec });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
  return {
    cluster, sim, controller, password,
    // Bounded: an invocation still retrying must not keep the cluster and simulator alive.
    stop: async () => {
      await within(15_000, controller.stop());
      await within(5_000, router.close());
      await within(5_000, sim.close());
      await cluster.stop();
    },
  };
}

const within = (ms: number, work: Promise<unknown>): Promise<unknown> =>
  Promise.race([work.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);

function banner(s: Stack): string {
  const k = s.cluster.binaries.kubectl;
  return [
    'Using the embedded local stack: a real kube-apiserver and etcd, the RouterOS simulator, and the MikroLB controller',
    '(set KUBECONFIG and ROUTEROS_URL/ROUTEROS_USERNAME/ROUTEROS_PASSWORD to run the controller against your own).',
    '',
    `KUBECONFIG=${s.cluster.kubeconfig}`,
    `ROUTEROS_URL=${s.sim.url}`,
    'ROUTEROS_USERNAME=mikrolb',
    `ROUTEROS_PASSWORD=${s.password}`,
    `CONTROLLER_METRICS=http://127.0.0.1:${s.controller.bridge.port}/metrics`,
    '',
    'Try (sample pools local-v4 and local-v6 are applied; classless LoadBalancer Services are served here):',
    `  export KUBECONFIG=${s.cluster.kubeconfig}`,
    `  ${k} create service loadbalancer demo --tcp=80:8080`,
    `  ${k} get ipallocations.mikrolb.de -o wide`,
    `  ${k} describe ipallocation -l mikrolb.de/service-name=demo`,
    `  ${k} get service demo`,
    `  ${k} get ippools`,
    '',
    'MikroLB local stack is ready. Press Ctrl-C to stop everything.',
    '',
  ].join('\n');
}

/** The embedded local stack of `npm start` (test/local-stack/start.ts), until Ctrl-C. */
export const runLocalStack: Command = async (_argv, env, io) => {
  const log = createLogger({ out: io.stderr, level: env.LOG_LEVEL === 'debug' ? 'debug' : 'info' });
  let stack: Stack;
  try {
    stack = await startStack(log);
  } catch (e) {
    io.stderr.write(`npm start: the local stack did not start: ${messageOf(e)}\n`);
    return EXIT_FAILED;
  }
  io.stdout.write(banner(stack));
  // a second Ctrl-C (not the same one relayed by npm or tsx: see untilStopped) gets Node's
  // default and leaves at once
  await untilStopped(io.signal);
  io.stderr.write('Stopping the local stack (Ctrl-C again to leave at once)\n');
  await stack.stop();
  return 0;
};

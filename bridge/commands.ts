import { classesFromEnv, portFromEnv, type Env } from '../lib/config.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo } from '../lib/cli/io.js';
import { messageOf } from '../lib/errors.js';
import { kubeRuntime, routerRuntime, untilStopped } from '../lib/cli/runtime.js';
import { createLogger, type Logger } from '../lib/log/logger.js';
import { gcCounters, routerLimitCounter } from '../lib/metrics.js';
import { startController } from './all-in-one.js';
import { startBridge } from './bridge.js';
import { bridgeConfigFromEnv } from './config.js';

const usageError = (io: CliIo, cmd: string, message: string): number => {
  io.stderr.write(`mikrolb ${cmd}: ${message}\n`);
  return EXIT_USAGE;
};

/** Runs until SIGTERM/SIGINT (or io.signal), then stops what `start` returned. */
async function runUntilStopped(io: CliIo, log: Logger, stop: () => Promise<void>): Promise<number> {
  await untilStopped(io.signal);
  log.info('Shutting down');
  await stop();
  log.info('Stopped');
  return EXIT_OK;
}

/** `mikrolb bridge`: watches the cluster and invokes the functions at FUNCTION_URL_*. */
export async function runBridgeCommand(argv: string[], env: Env, io: CliIo): Promise<number> {
  if (argv.length > 0) return usageError(io, 'bridge', `unexpected argument "${argv[0]}"`);
  const log = createLogger({ out: io.stderr });
  const cfg = bridgeConfigFromEnv(env);
  if (!cfg.ok) return usageError(io, 'bridge', cfg.message);
  const kube = kubeRuntime(env, 'mikrolb-bridge');
  if (!kube.ok) return usageError(io, 'bridge', kube.message);
  try {
    const bridge = await startBridge(cfg.config, { kc: kube.value.kc, log });
    log.info('Bridge started', { port: bridge.port, functions: cfg.config.functions });
    return await runUntilStopped(io, log, () => bridge.stop());
  } catch (e) {
    io.stderr.write(`mikrolb bridge: ${messageOf(e)}\n`);
    return EXIT_FAILED;
  }
}

/**
 * `mikrolb controller`: bridge + functions + webhook in one process, configured from the
 * environment (ROUTEROS_*, LOAD_BALANCER_*, the bridge's variables, WEBHOOK_CERT_DIR/PORT).
 */
export async function runControllerCommand(argv: string[], env: Env, io: CliIo): Promise<number> {
  if (argv.length > 0) return usageError(io, 'controller', `unexpected argument "${argv[0]}"`);
  const log = createLogger({ out: io.stderr });
  const classes = classesFromEnv(env);
  if (!classes.ok) return usageError(io, 'controller', classes.message);
  const bridgeCfg = bridgeConfigFromEnv(env, { functionUrls: 'optional' });
  if (!bridgeCfg.ok) return usageError(io, 'controller', bridgeCfg.message);
  const webhookPort = portFromEnv(env, 'WEBHOOK_PORT', 9443);
  if (!webhookPort.ok) return usageError(io, 'controller', webhookPort.message);
  const kube = kubeRuntime(env, 'mikrolb-controller');
  if (!kube.ok) return usageError(io, 'controller', kube.message);
  const counters = gcCounters();
  const router = routerRuntime(env, log.child({ component: 'router' }), routerLimitCounter(counters));
  if (!router.ok) return usageError(io, 'controller', router.message);
  try {
    const controller = await startController({
      kc: kube.value.kc, router: router.value, classes: classes.value, log, bridge: bridgeCfg.config, counters,
      webhook: { certDir: env.WEBHOOK_CERT_DIR ?? '/tmp/k8s-webhook-server/serving-certs', port: webhookPort.value },
    });
    log.info('Controller started', { port: controller.bridge.port, webhookPort: controller.webhookPort, loadBalancerClass: classes.value.loadBalancerClass, clusterName: classes.value.clusterName });
    return await runUntilStopped(io, log, async () => {
      await controller.stop();
      await router.value.close();
    });
  } catch (e) {
    await router.value.close();
    io.stderr.write(`mikrolb controller: ${messageOf(e)}\n`);
    return EXIT_FAILED;
  }
}

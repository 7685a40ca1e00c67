import type { Env } from '../lib/config.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo } from '../lib/cli/io.js';
import { messageOf } from '../lib/errors.js';
import { kubeRuntime, untilStopped } from '../lib/cli/runtime.js';
import { createLogger, type Logger } from '../lib/log/logger.js';
import { startBridge } from './bridge.js';
import { bridgeConfigFromEnv } from './config.js';

export const usageError = (io: CliIo, cmd: string, message: string): number => {
  io.stderr.write(`mikrolb ${cmd}: ${message}\n`);
  return EXIT_USAGE;
};

/** Runs until SIGTERM/SIGINT (or io.signal), then stops what `start` returned. */
export async function runUntilStopped(io: CliIo, log: Logger, stop: () => Promise<void>): Promise<number> {
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
  const kube = await kubeRuntime(env, 'mikrolb-bridge');
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

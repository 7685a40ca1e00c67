/**
 * A bridge in a process of its own, so its memory can be measured apart from the test's.
 * Configured from the environment like the real entry point; KUBECONFIG names the cluster.
 * Prints `{"port":N}` once ready; on stdin, `stats` prints memory and hop latencies as JSON,
 * `reset` does the same, then clears the latency windows. SIGTERM stops it gracefully.
 */
import { createInterface } from 'node:readline';
import { KubeConfig } from '@kubernetes/client-node';
import { startBridge } from '../../bridge/bridge.js';
import { bridgeConfigFromEnv } from '../../bridge/config.js';
import { untilStopped } from '../../lib/cli/runtime.js';
import { createLogger } from '../../lib/log/logger.js';
import type { LatencyWindow } from '../../lib/exposition.js';

const log = createLogger({ level: 'warn' });
const parsed = bridgeConfigFromEnv(process.env);
if (!parsed.ok) {
  process.stderr.write(`bridge: ${parsed.message}\n`);
  process.exit(2);
}
const kc = new KubeConfig();
kc.loadFromFile(process.env['KUBECONFIG'] ?? '');
const bridge = await startBridge({ ...parsed.config, hostname: '127.0.0.1' }, { kc, log });
// The product's own shutdown (lib/cli/runtime): stop on SIGTERM or SIGINT, then leave.
void untilStopped().then(async () => {
  await bridge.stop();
  process.exit(0);
});
await bridge.ready;
process.stdout.write(`${JSON.stringify({ port: bridge.port })}\n`);

const summary = (w: LatencyWindow) => ({ p50: w.quantile(0.5), p99: w.quantile(0.99), count: w.count() });
for await (const line of createInterface({ input: process.stdin })) {
  globalThis.gc?.();
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ rss, heapUsed, heapTotal, external, hop: summary(bridge.metrics.hop), delivered: summary(bridge.metrics.delivered) })}\n`);
  if (line === 'reset') {
    bridge.metrics.hop.reset();
    bridge.metrics.delivered.reset();
  }
}

import { startCluster } from './cluster.js';

/** Starts a cluster and prints its process ids; the test then kills this process with SIGKILL. */
const cluster = await startCluster({ crds: false, log: () => undefined });
const pids = (await import('node:fs')).readFileSync(`${cluster.dir}/pids`, 'utf8').trim().split('\n').join(',');
process.stdout.write(`READY ${cluster.dir} ${pids}\n`);
setInterval(() => undefined, 1000);

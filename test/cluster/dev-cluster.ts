import { startCluster } from './cluster.js';

/** `npm run dev:cluster`: the test cluster in the foreground until Ctrl-C. */
const cluster = await startCluster();
process.stdout.write(`KUBECONFIG=${cluster.kubeconfig}\n`);
process.stdout.write(`Try: KUBECONFIG=${cluster.kubeconfig} ${cluster.binaries.kubectl} get ippools,ipallocations\n`);
process.stdout.write('Press Ctrl-C to stop.\n');
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('[test-cluster] stopping\n');
  void cluster.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

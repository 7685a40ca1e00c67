import { startCluster } from './cluster.js';
import { clusterBinariesHelp, helpOnly } from './script-args.js';

/** `npm run dev:cluster -- --help` */
const usage = (): string => `usage: npm run dev:cluster [-- --help]

Runs the test cluster (a real kube-apiserver and etcd with MikroLB's CRDs applied, the one npm test
uses) in the foreground until Ctrl-C (or a SIGTERM to npm); it prints KUBECONFIG=<path> and a
kubectl command to try. MikroLB itself does not run (npm start runs it).

Environment:
  KUBEBUILDER_ASSETS        a folder with kube-apiserver, etcd and kubectl
${clusterBinariesHelp()}`;

/** `npm run dev:cluster`: the test cluster in the foreground until Ctrl-C. */
async function runDevCluster(argv: readonly string[]): Promise<number | undefined> {
  const answered = helpOnly('npm run dev:cluster', argv, usage, { stdout: process.stdout, stderr: process.stderr });
  if (answered !== undefined) return answered;
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
  return undefined;
}

const code = await runDevCluster(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;

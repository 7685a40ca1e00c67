import type { CliIo } from '../../lib/cli/io.js';
import type { Env } from '../../lib/config.js';
import { messageOf } from '../../lib/errors.js';
import { redactRouterUrl } from '../../lib/routeros/client/index.js';
import { runControllerCommand } from '../../bridge/all-in-one.js';
import { clusterBinariesHelp, helpOnly } from '../cluster/script-args.js';
import { runLocalStack } from './stack.js';

/** `npm start -- --help` */
const usage = (): string => `usage: npm start [-- --help]

Runs MikroLB on this machine until Ctrl-C (or a SIGTERM to npm):
- with KUBECONFIG and ROUTEROS_URL both set, the controller (mikrolb controller) against that
  cluster and router;
- otherwise the embedded local stack: a real kube-apiserver and etcd, the RouterOS API
  simulator and the controller, with the sample pools local-v4 and local-v6 applied; it prints
  the KUBECONFIG and ROUTEROS_* settings to use, and commands to try.

Environment:
  KUBECONFIG, ROUTEROS_URL  both set: run the controller against them, with ROUTEROS_USERNAME,
                            ROUTEROS_PASSWORD and every other variable of docs/configuration.md
  LOG_LEVEL                 debug: the local stack's controller logs at debug level (else info)
  KUBEBUILDER_ASSETS        a folder with kube-apiserver, etcd and kubectl for the local stack
${clusterBinariesHelp()}`;

/**
 * `npm start`: with KUBECONFIG and ROUTEROS_URL set, the controller (`mikrolb controller`)
 * against those; otherwise the embedded local stack (a kube-apiserver and etcd from
 * test/cluster, the RouterOS simulator, the controller), until Ctrl-C. Development tooling:
 * neither this nor the cluster launcher is in the build or the image. Run as a script only.
 */
async function runStart(argv: string[], env: Env, io: CliIo): Promise<number> {
  const answered = helpOnly('npm start', argv, usage, io);
  if (answered !== undefined) return answered;
  if (env.KUBECONFIG && env.ROUTEROS_URL) {
    io.stderr.write(`Using KUBECONFIG=${env.KUBECONFIG} and ROUTEROS_URL=${redactRouterUrl(env.ROUTEROS_URL)} from the environment.\n`);
    return runControllerCommand([], env, io);
  }
  return runLocalStack([], env, io);
}

const io: CliIo = { stdout: process.stdout, stderr: process.stderr };
runStart(process.argv.slice(2), process.env, io).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`npm start: ${messageOf(err)}\n`);
    process.exitCode = 1;
  },
);

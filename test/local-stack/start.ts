import type { CliIo } from '../../lib/cli/io.js';
import type { Env } from '../../lib/config.js';
import { messageOf } from '../../lib/errors.js';
import { redactRouterUrl } from '../../lib/routeros/client/index.js';
import { runControllerCommand } from '../../bridge/all-in-one.js';
import { runLocalStack } from './stack.js';

/**
 * `npm start`: with KUBECONFIG and ROUTEROS_URL set, the controller (`mikrolb controller`)
 * against those; otherwise the embedded local stack (a kube-apiserver and etcd from
 * test/cluster, the RouterOS simulator, the controller), until Ctrl-C. Development tooling:
 * neither this nor the cluster launcher is in the build or the image. Run as a script only.
 */
async function runStart(argv: string[], env: Env, io: CliIo): Promise<number> {
  if (env.KUBECONFIG && env.ROUTEROS_URL) {
    io.stderr.write(`Using KUBECONFIG=${env.KUBECONFIG} and ROUTEROS_URL=${redactRouterUrl(env.ROUTEROS_URL)} from the environment.\n`);
    return runControllerCommand(argv, env, io);
  }
  return runLocalStack(argv, env, io);
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

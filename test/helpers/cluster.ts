import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { kubeTransport, type Transport } from '../../lib/k8s/rest.js';

export interface Kubectl {
  (args: readonly string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }>;
}

/** The shared test cluster started by test/cluster/global-setup.ts. */
export function testCluster(): { kubeconfig: string; kc: KubeConfig; transport: Transport; kubectl: Kubectl } {
  const kubeconfig = inject('kubeconfig');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const kubectlPath = inject('kubectlPath');
  const kubectl: Kubectl = (args, input) =>
    new Promise((res) => {
      const child = execFile(kubectlPath, [`--kubeconfig=${kubeconfig}`, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        res({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  return { kubeconfig, kc, transport: kubeTransport(kc), kubectl };
}

/** A short random suffix so tests sharing one cluster never collide. */
export const uniq = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

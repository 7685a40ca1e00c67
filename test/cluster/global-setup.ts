import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startCluster } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    clusterDir: string;
    kubectlPath: string;
    apiserverStartupMs: number;
  }
}

/** One real kube-apiserver + etcd for the whole integration run; tests isolate by names and labels. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startCluster();
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('clusterDir', cluster.dir);
  project.provide('kubectlPath', cluster.binaries.kubectl);
  project.provide('apiserverStartupMs', cluster.startupMs);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await cluster.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(130)));
  }
  return stop;
}

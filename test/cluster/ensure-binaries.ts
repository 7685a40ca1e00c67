import { ensureBinaries } from './binaries.js';

/** Finds or builds the test-cluster binaries ahead of the test run (used by .ci/run). */
const b = await ensureBinaries();
process.stdout.write(`kube-apiserver ${b.versions.kubernetes} (${b.kubeApiserver})\netcd ${b.versions.etcd} (${b.etcd})\nkubectl (${b.kubectl})\nsource: ${b.source}\n`);

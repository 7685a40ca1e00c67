import type { KubePort } from '../../lib/k8s/port.js';

/**
 * The port with each read noted in `into` (`get Service`, `list IPPool`, …), for tests that
 * count what a function asks the API server.
 */
export function recordingReads(port: KubePort, into: string[]): KubePort {
  return {
    ...port,
    get: (kind, ...rest) => {
      into.push(`get ${kind}`);
      return port.get(kind, ...rest);
    },
    list: (kind, ...rest) => {
      into.push(`list ${kind}`);
      return port.list(kind, ...rest);
    },
  };
}

import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/** Tests only: peers for the API-server clients. */

/** A child Node that listens with a backlog of 1, prints its port and never accepts (its event loop blocked). */
const NEVER_ACCEPTS = `
const server = require('node:net').createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});`;

export interface UnansweredAddress {
  port: number;
  close(): Promise<void>;
}

/**
 * An address on 127.0.0.1 that never completes a TCP handshake, as an API server behind a
 * firewall that drops packets: a child process listens and never accepts; once this has filled
 * its accept queue, Linux drops every further SYN, so a connect waits for the kernel's retries
 * (about 127 s). Throws when the queue cannot be filled (every connection was accepted).
 */
export async function unansweredAddress(): Promise<UnansweredAddress> {
  const child = spawn(process.execPath, ['-e', NEVER_ACCEPTS], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  const close = async (): Promise<void> => {
    for (const socket of fillers) socket.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the listener exited (${code}) before it listened`)));
      child.stdout.once('data', (data: Buffer) => resolve(Number(data.toString().trim())));
    });
    // a handshake the kernel completes lands in the accept queue; the first one that does not
    // (within a second, on loopback) shows the queue is full and SYNs are dropped
    for (let i = 0; i < 8; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      fillers.push(socket);
      const connected = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 1000);
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!connected) return { port, close };
    }
    throw new Error('every connection to the listener completed: its accept queue did not fill');
  } catch (err) {
    await close();
    throw err;
  }
}

/** A kubeconfig for `https://127.0.0.1:<port>` (the certificate unchecked, no credentials). */
export function kubeConfigAt(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

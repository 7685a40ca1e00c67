// Watchdog for the test cluster: when the process that started the cluster dies without
// stopping it (SIGKILL, crash), terminate etcd and kube-apiserver and remove their data.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const [parentArg, dir] = process.argv.slice(2);
const parent = Number(parentArg);

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const children = () => {
  try {
    return readFileSync(join(dir, 'pids'), 'utf8').split('\n').map(Number).filter((n) => n > 0);
  } catch {
    return [];
  }
};

const reap = () => {
  const pids = children();
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
  setTimeout(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 3000);
};

process.on('SIGTERM', () => process.exit(0));
const timer = setInterval(() => {
  if (!alive(parent)) {
    clearInterval(timer);
    reap();
  }
}, 500);

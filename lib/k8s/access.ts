import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join, resolve, dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import * as z from 'zod';

/**
 * How to reach the API server: its address, and the credentials a request carries. The shape
 * is the part of @kubernetes/client-node's KubeConfig the transports use, so a KubeConfig is
 * one (tests and callers that already hold one pass it as is).
 */
export interface ClusterAccess {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Where a pod's ServiceAccount credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A bound ServiceAccount token is rotated in place: read again at most this often. */
const TOKEN_REREAD_MS = 60_000;

/** A token read from a file, re-read now and then (the kubelet rotates it). */
function tokenFrom(file: string): () => string {
  let token = '';
  let readAt = -Infinity;
  return () => {
    const now = Date.now();
    if (now - readAt >= TOKEN_REREAD_MS) {
      token = readFileSync(file, 'utf8').trim();
      readAt = now;
    }
    return token;
  };
}

interface Credentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: () => string;
  insecure?: boolean;
}

function accessOf(c: Credentials): ClusterAccess {
  return {
    getCurrentCluster: () => ({ server: c.server }),
    applyToHTTPSOptions: (options) => {
      if (c.ca) options.ca = c.ca;
      if (c.cert) options.cert = c.cert;
      if (c.key) options.key = c.key;
      if (c.insecure) options.rejectUnauthorized = false;
      if (c.token) options.headers = { ...options.headers, authorization: `Bearer ${c.token()}` };
      return Promise.resolve();
    },
  };
}

/** In a pod: the ServiceAccount's token and CA, the API server from the Service environment. */
function inClusterAccess(env: Env): ClusterAccess | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = join(SERVICE_ACCOUNT_DIR, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    return accessOf({ server, ca: readFileSync(join(SERVICE_ACCOUNT_DIR, 'ca.crt')), token: tokenFrom(tokenFile) });
  } catch {
    return undefined; // unreadable: client-node says why
  }
}

/** The kubeconfig fields the light reader understands; anything else (exec, auth-provider, …) goes to client-node. */
const UserSchema = z.strictObject({
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  token: z.string().optional(),
  tokenFile: z.string().optional(),
});
const ClusterSchema = z.strictObject({
  server: z.string().min(1),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
});
const ContextSchema = z.object({ cluster: z.string(), user: z.string(), namespace: z.string().optional() });
const KubeconfigSchema = z.object({
  'current-context': z.string().min(1),
  contexts: z.array(z.object({ name: z.string(), context: ContextSchema })).nullish(),
  clusters: z.array(z.object({ name: z.string(), cluster: ClusterSchema })).nullish(),
  users: z.array(z.object({ name: z.string(), user: UserSchema.nullish() })).nullish(),
});

/**
 * A kubeconfig file in the plain form (client certificate, token or token file; a CA or
 * none), read without loading @kubernetes/client-node. Undefined: a form it leaves to client-node.
 */
export async function lightKubeconfig(file: string): Promise<ClusterAccess | undefined> {
  // The YAML parser is loaded only for a kubeconfig: a pod (its ServiceAccount) never needs it.
  // Outside the try: a parser that fails to load is a broken build, not a form for client-node.
  const { parseYaml } = await import('./kubeconfig-yaml.js');
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = KubeconfigSchema.safeParse(doc);
  if (!parsed.success) return undefined;
  const cfg = parsed.data;
  const context = cfg.contexts?.find((c) => c.name === cfg['current-context'])?.context;
  const cluster = context && cfg.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const userEntry = context && cfg.users?.find((u) => u.name === context.user);
  if (!context || !cluster || !userEntry) return undefined;
  const user = userEntry.user ?? {};
  const base = dirname(resolve(file));
  const fileOrData = (path: string | undefined, data: string | undefined): Buffer | undefined =>
    data !== undefined ? Buffer.from(data, 'base64') : path !== undefined ? readFileSync(resolve(base, path)) : undefined;
  try {
    const token = user.token !== undefined ? () => user.token ?? '' : user.tokenFile !== undefined ? tokenFrom(resolve(base, user.tokenFile)) : undefined;
    const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
    const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
    const key = fileOrData(user['client-key'], user['client-key-data']);
    return accessOf({
      server: cluster.server,
      ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(token ? { token } : {}),
      ...(cluster['insecure-skip-tls-verify'] ? { insecure: true } : {}),
    });
  } catch {
    return undefined; // a file it names cannot be read: client-node says why
  }
}

/**
 * The kubeconfig files to read, as client-node's loadFromDefault finds them: $KUBECONFIG split
 * on the path delimiter (':', ';' on Windows), empty entries dropped; unset or empty, the one
 * file ~/.kube/config if it exists; else none (in a pod: its ServiceAccount).
 */
export function kubeconfigFiles(env: Env): string[] {
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
  if (listed.length > 0) return listed;
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

/**
 * Several kubeconfig files merged into one, by kubectl's rules: the first file to set the
 * current context wins, and so does the first file to name a cluster, user or context (later
 * entries of the same name are ignored). client-node's own merge (loadFromDefault) differs on
 * both: the last file's current context wins, and a name in two files is an error.
 */
function loadMerged(Config: typeof KubeConfig, files: readonly [string, ...string[]]): KubeConfig {
  const [first, ...rest] = files;
  const kc = new Config();
  kc.loadFromFile(first);
  for (const file of rest) {
    const next = new Config();
    next.loadFromFile(file);
    if (!kc.getCurrentContext() && next.getCurrentContext()) kc.setCurrentContext(next.getCurrentContext());
    for (const cluster of next.getClusters()) if (!kc.getClusters().some((c) => c.name === cluster.name)) kc.addCluster(cluster);
    for (const user of next.getUsers()) if (!kc.getUsers().some((u) => u.name === user.name)) kc.addUser(user);
    for (const context of next.getContexts()) if (!kc.getContexts().some((c) => c.name === context.name)) kc.addContext(context);
  }
  return kc;
}

/**
 * The cluster as client-node's `loadFromDefault` finds it ($KUBECONFIG, else ~/.kube/config,
 * else the pod's ServiceAccount), read directly in the common forms: loading all of
 * @kubernetes/client-node costs a function's cold start most of its time. Any other form
 * (exec plugins, auth providers, several files) is handed to client-node, loaded then.
 */
export async function loadClusterAccess(env: Env): Promise<ClusterAccess> {
  const files = kubeconfigFiles(env);
  const [only, ...more] = files;
  const light = only === undefined ? inClusterAccess(env) : more.length === 0 ? await lightKubeconfig(only) : undefined;
  if (light) return light;
  const { KubeConfig: Config } = await import('@kubernetes/client-node');
  if (only !== undefined) return loadMerged(Config, [only, ...more]);
  // In a pod whose ServiceAccount could not be read directly: client-node says why. Outside a
  // pod, no cluster at all (the caller says to set KUBECONFIG).
  const kc = new Config();
  if (existsSync(join(SERVICE_ACCOUNT_DIR, 'token'))) kc.loadFromCluster();
  return kc;
}

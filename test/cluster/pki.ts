import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd });
}

async function ecKey(cwd: string, name: string): Promise<void> {
  await openssl(cwd, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
}

/** A random serial number, positive and at most 20 bytes long as RFC 5280 asks. */
const serial = (): string => `0x01${randomBytes(15).toString('hex')}`;

/**
 * Issues `name`.crt signed by ca.crt in `dir`, with optional subjectAltNames and usage. Each
 * certificate gets a random serial: `-CAcreateserial` shares one serial file, which openssl
 * truncates and rewrites, so two issued at once (createPki does) could read it half written
 * ("Unable to load number from ca.srl", seen once in CI).
 */
async function issue(dir: string, name: string, subject: string, ext: string): Promise<void> {
  await ecKey(dir, name);
  await openssl(dir, 'req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial(),
    '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

/**
 * A throw-away CA with a serving certificate for 127.0.0.1/localhost, an admin client
 * certificate (O=system:masters) and a service-account signing key, all in `dir`.
 */
export async function createPki(dir: string): Promise<Pki> {
  await ecKey(dir, 'ca');
  await openssl(dir, 'req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=mikrolb-test-ca', '-days', '2', '-sha256', '-out', 'ca.crt');
  await Promise.all([
    issue(dir, 'server', '/CN=kube-apiserver',
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n'),
    issue(dir, 'admin', '/O=system:masters/CN=mikrolb-test-admin',
      'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n'),
    ecKey(dir, 'sa'),
  ]);
  await openssl(dir, 'ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  const p = (f: string): string => join(dir, f);
  return {
    caCert: p('ca.crt'), caKey: p('ca.key'), serverCert: p('server.crt'), serverKey: p('server.key'),
    adminCert: p('admin.crt'), adminKey: p('admin.key'), saKey: p('sa.key'), saPub: p('sa.pub'),
  };
}

/** A serving certificate for a loopback webhook, signed by the cluster's CA. */
export async function issueServingCert(dir: string, name: string): Promise<{ cert: string; key: string }> {
  await issue(dir, name, `/CN=${name}`,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

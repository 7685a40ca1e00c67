import { describe, expect, it } from 'vitest';
import { WEBHOOK_CERT_DIR, webhookCertDir } from './settings.js';

describe('the webhook\'s certificate folder', () => {
  it.each([
    { story: 'unset', env: {}, dir: WEBHOOK_CERT_DIR },
    { story: 'empty, as every variable counts as unset (it was the working directory)', env: { WEBHOOK_CERT_DIR: '' }, dir: WEBHOOK_CERT_DIR },
    { story: 'blank', env: { WEBHOOK_CERT_DIR: '  ' }, dir: WEBHOOK_CERT_DIR },
    { story: 'set', env: { WEBHOOK_CERT_DIR: '/var/run/certs' }, dir: '/var/run/certs' },
  ])('$story', ({ env, dir }) => {
    expect(webhookCertDir(env)).toBe(dir);
  });
});

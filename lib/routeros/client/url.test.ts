import { describe, expect, it } from 'vitest';
import { plaintextWarning, redactRouterUrl, RouterUrlSchema } from './url.js';

const target = (url: string) => RouterUrlSchema.parse(url);

describe('redactRouterUrl', () => {
  it.each([
    ['api://admin:Sup3rS3cret@192.0.2.1', 'api://***@192.0.2.1'],
    ['api-ssl://mikrolb:p@ss/w0rd@router.lan:8729', 'api-ssl://***@router.lan:8729'],
    ['admin:Sup3rS3cret@192.0.2.1', '***@192.0.2.1'],
    ['api://192.0.2.1:8728', 'api://192.0.2.1:8728'],
  ])('%s is shown as %s', (raw, shown) => {
    expect(redactRouterUrl(raw)).toBe(shown);
  });
});

describe('plaintextWarning', () => {
  it.each(['api://192.0.2.1', 'api://router.lan:8728', 'api://[2001:db8::1]'])('warns for plain %s', (url) => {
    expect(plaintextWarning(target(url))).toMatchObject({ msg: expect.stringContaining('not encrypted'), fields: { router: expect.any(String) } });
  });

  it.each(['api-ssl://192.0.2.1', 'api://127.0.0.1:8728', 'api://127.8.9.10', 'api://[::1]:8728', 'api://localhost'])('stays quiet for %s', (url) => {
    expect(plaintextWarning(target(url))).toBeUndefined();
  });
});

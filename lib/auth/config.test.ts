import { describe, expect, it } from 'vitest';
import { invokeAuthFromEnv } from './config.js';

const BRIDGE = 'system:serviceaccount:mikrolb-system:mikrolb-bridge';

describe('INVOKE_AUTH, INVOKE_AUDIENCE, INVOKE_ALLOWED_SUBJECTS', () => {
  it('requires the allowed subjects by default (TokenReview is the default)', () => {
    expect(invokeAuthFromEnv({})).toMatchObject({ ok: false, message: expect.stringMatching(/^INVOKE_ALLOWED_SUBJECTS is required/) });
  });

  it('reads a comma-separated list, trimmed and without duplicates, and the audience', () => {
    expect(invokeAuthFromEnv({ INVOKE_ALLOWED_SUBJECTS: ` ${BRIDGE}, system:serviceaccount:x:y,,${BRIDGE}`, INVOKE_AUDIENCE: 'mikrolb-functions' })).toEqual({
      ok: true, value: { mode: 'tokenreview', allowedSubjects: [BRIDGE, 'system:serviceaccount:x:y'], audience: 'mikrolb-functions' },
    });
    expect(invokeAuthFromEnv({ INVOKE_AUTH: 'tokenreview', INVOKE_ALLOWED_SUBJECTS: BRIDGE })).toEqual({ ok: true, value: { mode: 'tokenreview', allowedSubjects: [BRIDGE] } });
  });

  it('turns authentication off only when told so explicitly', () => {
    expect(invokeAuthFromEnv({ INVOKE_AUTH: 'none' })).toEqual({ ok: true, value: { mode: 'none' } });
  });

  it.each([
    [{ INVOKE_AUTH: 'off' }, 'INVOKE_AUTH="off" must be tokenreview or none'],
    [{ INVOKE_ALLOWED_SUBJECTS: ' , ' }, 'INVOKE_ALLOWED_SUBJECTS=" , " names no subject'],
    [{ INVOKE_ALLOWED_SUBJECTS: 'system:serviceaccount:a:b c' }, 'INVOKE_ALLOWED_SUBJECTS="system:serviceaccount:a:b c" "system:serviceaccount:a:b c" is not a user name (no spaces)'],
    [{ INVOKE_ALLOWED_SUBJECTS: BRIDGE, INVOKE_AUDIENCE: 'a,b' }, 'INVOKE_AUDIENCE="a,b" must be one audience (no spaces or commas)'],
  ])('names the variable of a bad value: %j', (env, message) => {
    expect(invokeAuthFromEnv(env)).toEqual({ ok: false, message });
  });
});

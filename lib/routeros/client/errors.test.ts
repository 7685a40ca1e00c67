import { describe, expect, it } from 'vitest';
import {
  forOp, isAlreadyExists, isAuth, isBadArgument, isConnection, isNotFound, isPermission, isTimeout, RouterError, trapError,
} from '../../router/errors.js';
import { RouterUrlSchema } from './url.js';

const trap = (message: string, category?: string): RouterError =>
  trapError('/ip/address/add', category === undefined ? { message } : { message, category });
const failure = (kind: RouterError['kind']): RouterError => new RouterError({ kind, message: kind });
const predicates = { isNotFound, isAlreadyExists, isBadArgument, isPermission, isConnection, isAuth, isTimeout };
type Predicate = keyof typeof predicates;

describe('error predicates', () => {
  it.each<[string, unknown, Predicate[]]>([
    ['no such item', trap('no such item', '0'), ['isNotFound']],
    ['an unknown menu is not a missing item', trap('no such command prefix', '0'), []],
    ['duplicate address', trap('failure: already have such address'), ['isAlreadyExists']],
    ['duplicate entry', trap('failure: already have such entry'), ['isAlreadyExists']],
    ['invalid value', trap('invalid value for argument address', '1'), ['isBadArgument']],
    ['unknown interface', trap('input does not match any value of interface', '1'), ['isBadArgument']],
    ['unknown parameter without category', trap('unknown parameter colour'), ['isBadArgument']],
    ['category 1 alone', trap('something else', '1'), ['isBadArgument']],
    ['refused before sending', failure('input'), ['isBadArgument']],
    ['read-only user', trap('not enough permissions (9)'), ['isPermission']],
    ['refused connection', failure('connection'), ['isConnection']],
    ['silence', failure('timeout'), ['isConnection', 'isTimeout']],
    ['!fatal', failure('fatal'), ['isConnection']],
    ['TLS', failure('tls'), ['isConnection']],
    ['wrong password', failure('auth'), ['isConnection', 'isAuth']],
    ['malformed stream', failure('protocol'), ['isConnection']],
    ['a plain Error', new Error('no such item'), []],
    ['not an error', 'no such item', []],
  ])('%s', (_name, error, expected) => {
    const matched = Object.entries(predicates).filter(([, test]) => test(error)).map(([name]) => name);
    expect(matched).toEqual(expected);
  });

  it('keeps the router message, category and command, also when tagged with an op', () => {
    const error = forOp(trap('no such item', '0'), 3, 'set /ip/address *5');
    expect(error).toMatchObject({ kind: 'trap', routerMessage: 'no such item', category: 0, command: '/ip/address/add', opIndex: 3 });
    expect(error.message).toBe('set /ip/address *5 failed: /ip/address/add: no such item');
    expect(isNotFound(error)).toBe(true);
  });
});

describe('RouterUrlSchema', () => {
  it.each([
    ['api://192.0.2.1', { tls: false, host: '192.0.2.1', port: 8728 }],
    ['api-ssl://router.lan', { tls: true, host: 'router.lan', port: 8729 }],
    ['api-ssl://router.lan:443/', { tls: true, host: 'router.lan', port: 443 }],
    ['api://router:80', { tls: false, host: 'router', port: 80 }],
    [' api://[fd00::1]:8728 ', { tls: false, host: 'fd00::1', port: 8728 }],
  ])('%s', (url, target) => {
    expect(RouterUrlSchema.parse(url)).toEqual(target);
  });

  it.each(['http://router', 'api://', 'api://router:99999', 'api://router/path', 'api://u:p@router', 'router:8728', 'api:/router'])(
    'rejects %s',
    (url) => {
      expect(RouterUrlSchema.safeParse(url).success).toBe(false);
    },
  );

  it.each([
    ['api://127.0.0.1:notaport', 'router URL has an invalid host or port: must look like api://host[:8728] or api-ssl://host[:8729]'],
    ['api://router:99999', 'router URL has an invalid host or port: must look like api://host[:8728] or api-ssl://host[:8729]'],
    ['api://router:0', 'router URL has an invalid port (1-65535): must look like api://host[:8728] or api-ssl://host[:8729]'],
    ['http://router', 'router URL must look like api://host[:8728] or api-ssl://host[:8729]'],
  ])('says what is wrong with %s', (url, message) => {
    const r = RouterUrlSchema.safeParse(url);
    expect(r.success ? undefined : r.error.issues.map((i) => i.message)).toEqual([message]);
  });
});

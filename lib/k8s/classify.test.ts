import { describe, expect, it } from 'vitest';
import type { ErrorAnswer } from '../http/function-app.js';
import { classifyKubeError } from './classify.js';
import { RetryLaterError } from './conflict.js';
import { KubeError } from './errors.js';
import { InvalidObjectError } from './typed.js';

describe('how a Kubernetes-side failure is answered', () => {
  it.each<[string, unknown, ErrorAnswer | undefined]>([
    ['optimistic concurrency kept losing', new RetryLaterError('updating x: still conflicting after 5 attempts', 3),
      { status: 409, retryAfterSeconds: 3, message: 'updating x: still conflicting after 5 attempts' }],
    ['a resourceVersion conflict', new KubeError('the object has been modified', 409, 'Conflict'),
      { status: 409, retryAfterSeconds: 1, message: 'the object has been modified' }],
    ['throttled, with Retry-After', new KubeError('too many requests', 429, 'TooManyRequests', 7),
      { status: 429, retryAfterSeconds: 7, message: 'too many requests' }],
    ['throttled, without Retry-After', new KubeError('too many requests', 429, 'TooManyRequests'),
      { status: 429, retryAfterSeconds: 1, message: 'too many requests' }],
    ['the API server is unreachable', new KubeError('connect ECONNREFUSED', 0, 'NetworkError'),
      { status: 503, retryAfterSeconds: 2, message: 'the Kubernetes API is unavailable: connect ECONNREFUSED' }],
    ['the API server fails', new KubeError('etcdserver: request timed out', 500, 'InternalError'),
      { status: 503, retryAfterSeconds: 2, message: 'the Kubernetes API is unavailable: etcdserver: request timed out' }],
    ['the API server is shutting down, with Retry-After', new KubeError('shutting down', 503, 'ServiceUnavailable', 5),
      { status: 503, retryAfterSeconds: 5, message: 'the Kubernetes API is unavailable: shutting down' }],
    ['a name that is taken is no conflict', new KubeError('ipallocations "a" already exists', 409, 'AlreadyExists'),
      { status: 500, message: 'the Kubernetes API refused a request: ipallocations "a" already exists' }],
    ['forbidden (RBAC) is not retried', new KubeError('forbidden', 403, 'Forbidden'),
      { status: 500, message: 'the Kubernetes API refused a request: forbidden' }],
    ['an object that does not match its schema', new InvalidObjectError({ kind: 'IPPool', name: 'lan', message: 'spec.addresses: Required' }),
      { status: 500, message: 'IPPool lan does not match the expected schema: spec.addresses: Required' }],
    ['not a Kubernetes error at all', new Error('boom'), undefined],
    ['not even an Error', 'boom', undefined],
  ])('%s', (_story, error, want) => {
    expect(classifyKubeError(error)).toEqual(want);
  });
});

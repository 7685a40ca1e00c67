import { describe, expect, it } from 'vitest';
import { failed, retryLater, type Outcome } from '../events/outcome.js';
import { classifyKubeError } from './classify.js';
import { KubeError } from './errors.js';
import { InvalidObjectError } from './typed.js';

describe('what a Kubernetes-side failure means for the run', () => {
  it.each<[string, unknown, Outcome | undefined]>([
    ['a resourceVersion conflict', new KubeError('the object has been modified', 409, 'Conflict'),
      retryLater('Conflict', 'the object has been modified', 1)],
    ['throttled, with Retry-After', new KubeError('too many requests', 429, 'TooManyRequests', 7),
      retryLater('Throttled', 'too many requests', 7)],
    ['throttled, without Retry-After', new KubeError('too many requests', 429, 'TooManyRequests'),
      retryLater('Throttled', 'too many requests', 1)],
    ['the API server is unreachable', new KubeError('connect ECONNREFUSED', 0, 'NetworkError'),
      retryLater('Unavailable', 'the Kubernetes API is unavailable: connect ECONNREFUSED', 2)],
    ['the API server fails', new KubeError('etcdserver: request timed out', 500, 'InternalError'),
      retryLater('Unavailable', 'the Kubernetes API is unavailable: etcdserver: request timed out', 2)],
    ['the API server is shutting down, with Retry-After', new KubeError('shutting down', 503, 'ServiceUnavailable', 5),
      retryLater('Unavailable', 'the Kubernetes API is unavailable: shutting down', 5)],
    ['a name that is taken is no conflict', new KubeError('ipallocations "a" already exists', 409, 'AlreadyExists'),
      failed('the Kubernetes API refused a request: ipallocations "a" already exists')],
    ['forbidden: retried (an API server just started refuses until it has read RBAC; a missing grant can be added)', new KubeError('forbidden', 403, 'Forbidden'),
      retryLater('Forbidden', 'the Kubernetes API refused a request (check this ServiceAccount\'s RBAC, deploy/base/rbac-*.yaml): forbidden', 5)],
    ['a refused credential: retried the same way', new KubeError('Unauthorized', 401, 'Unauthorized'),
      retryLater('Forbidden', 'the Kubernetes API refused a request (check this ServiceAccount\'s RBAC, deploy/base/rbac-*.yaml): Unauthorized', 5)],
    ['a request the API server finds invalid is unexpected', new KubeError('Service "web" is invalid', 422, 'Invalid'),
      failed('the Kubernetes API refused a request: Service "web" is invalid')],
    ['an object that does not match its schema', new InvalidObjectError({ kind: 'IPPool', name: 'lan', message: 'spec.addresses: Required' }),
      failed('IPPool lan does not match the expected schema: spec.addresses: Required')],
    ['not a Kubernetes error at all', new Error('boom'), undefined],
    ['not even an Error', 'boom', undefined],
  ])('%s', (_story, error, want) => {
    expect(classifyKubeError(error)).toEqual(want);
  });
});

export { createTracer, type Delivery, type Tracer, type TraceFailure, type TraceResult } from './tracer.js';
export { ConnectionSchema, type Connection } from './connection.js';
export type { Hit } from './chain.js';
export type { RuleProblem } from './rules.js';
export type { Family } from './addresses.js';

/** The event bridge: watch sources → routing table → work queue → functions. */
export { startBridge, type BridgeDeps, type BridgeHandle } from './bridge.js';
export { bridgeConfig, bridgeConfigFromEnv, BridgeConfigSchema, parseDuration, type BridgeConfig, type BridgeConfigInput, type EnvOptions, type EnvResult } from './config.js';
export { appDispatch, httpDispatch, type Dispatch, type DispatchResult } from './invoker.js';
export { ROUTES, FUNCTION_NAMES, routeEmission, type FunctionName, type Route } from './routing.js';
export { createBridgeApp } from './server.js';
export { stopOnSignals } from './signals.js';
export { systemClock, type Clock } from './clock.js';
export type { BridgeMetrics } from './metrics.js';

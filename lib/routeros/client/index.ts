export { connectRouter } from './client.js';
export type { ExecuteResult, RouterClient, RouterClientConfig, RouterClientStats } from './client.js';
export type { PrintOptions } from './commands.js';
export {
  RouterError, isAlreadyExists, isAuth, isBadArgument, isConnection, isLimit, isNotFound, isPermission, isRouterError, isTimeout,
} from '../../router/errors.js';
export type { RouterErrorKind } from '../../router/errors.js';
export { DEFAULT_LIMITS, type RouterLimit, type RouterLimits } from './session.js';
export { plaintextWarning, redactRouterUrl, RouterUrlSchema } from './url.js';
export type { RouterTarget } from './url.js';

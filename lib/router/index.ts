/**
 * The router model of the `program` function, pure and I/O-free: the entries MikroLB wants on
 * a router (layout) and the ops that get it there from what is there (planner).
 */
export {
  advertisementEntry, entryOwner, globalEntries, mergeDesired, menusFor, serviceEntries,
  type Advertisement, type DesiredEntry, type DesiredMenus, type FamilyAddress, type ServiceEndpoint, type ServicePort, type ServiceProgram,
} from './layout.js';
export { plan, plannedOwner, planState, type Op, type Scope } from './planner.js';
export { applyPlanToState } from './apply.js';
export {
  DEFAULT_CLUSTER, GLOBAL_ROLES, LB_CHAIN, LB_CONNECTION_MARK, LB_LIST, SNAT_CHAIN, clusterNameProblem, legacyComment, ownerOf, parseTag, portChain, scopes,
  serviceChain, snatList, sourceList, type Owner, type Tag,
} from './names.js';
export { parseSourceRange, type SourceRange } from './access.js';
export { forCluster, isOrderedMenu } from './menus.js';
export { stagePlan } from './stages.js';

// A cgroup per unit (issue 13): the layout of this node (layout.ts), the names (naming.ts), the
// operations (ops.ts) and the accounting (usage.ts). Limits are written by limits.ts and
// resources.ts from a UnitCgroup's `dirs` (controller → directory).

export { detectCgroups, describeLayout, type CgroupLayout, type CgroupMode, type Hierarchy } from './layout.ts';
export { agentBase, unitCgroup, namespaceSlice, cgroupOfPid, holdersCgroup, slicePath, escapeCgroupName, insideAgent, realizedIn, sameCgroup, DEFAULT_BASE, HOLDERS_SCOPE, type CgroupContext, type UnitCgroup } from './naming.ts';
export { ensureUnitCgroup, ensureHolders, removeUnitCgroup, removeUnrealized, widenCgroup, removeBaseTree, basePids, cgroupPids, cgroupExists, cgroupKilled, isPopulated, eventsFile, killCgroup, freezeCgroup, attachPid, CgroupError, type KillOptions } from './ops.ts';
export { readUsage, type CgroupUsage } from './usage.ts';
export { realizeFor, realizedControllers } from './realize.ts';
export { agentCgroups, SYSTEM_STATE_DIR } from './agent.ts';

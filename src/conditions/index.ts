// Condition*= and Assert*= on the node (systemd's unit_test_condition(), unit_test_assert()).
export { CHECK_TYPES, checkText, type Check, type CheckState, type CheckType, type Facts, type Family } from './types.ts';
export { checksFromSpec, parseCheck, type ParsedChecks } from './parse.ts';
export { evaluateList, testCheck, errnoText, type ListResult } from './evaluate.ts';
export { HostFacts, type HostFactsOptions } from './hostfacts.ts';
export { HostFs } from './hostfs.ts';
export { compareVersions } from './version.ts';
export { startChecks, type StartChecks, type CheckRecord } from './start.ts';

export * from './spec.ts';
export * from './graph.ts';
export * from './jobs.ts';
export * from './transaction.ts';
export * from './types.ts';
export * from './manager.ts';
export * from './glue.ts';
export * from './mounts.ts';

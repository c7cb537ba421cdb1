export * from './states.ts';
export * from './config.ts';
export * from './decisions.ts';
export * from './types.ts';
export * from './machine.ts';

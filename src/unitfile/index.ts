export * from './parse.ts';
export * from './errors.ts';
export * from './convert.ts';
export * from './render.ts';
export * from './normalize.ts';
export * from './dropins.ts';
export * from './specifiers.ts';

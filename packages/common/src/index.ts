export * from './errors';
export * from './atomic';
export * from './progress';
export * from './py/npy';
export * from './py/npy-file';
export * from './random';

export * from './errors';
export * from './atomic';
export * from './progress';

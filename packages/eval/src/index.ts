export * from './lib/aggregator';
export * from './lib/templates';
export * from './lib/pairs';
export * from './lib/roc';
export * from './lib/verification';
export * from './lib/identification';
export { createRowDotKernel, type RowDotKernel } from './lib/dot-kernel';

export * from './framing';
export * from './index-file';
export * from './reader';
export * from './writer';
export * from './layout';

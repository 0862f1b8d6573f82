export * from './common';
export * from './recordio';
export * from './folder';
export * from './ijb';

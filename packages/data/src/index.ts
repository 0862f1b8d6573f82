export * from './recordio';
export * from './ijb';

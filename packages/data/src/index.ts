export * from './recordio';

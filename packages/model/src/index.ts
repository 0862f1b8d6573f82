export * from './backend';
export * from './backbone';

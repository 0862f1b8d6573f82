export * from './config';
export * from './weights';
export * from './state-dict';
export * from './fold';
export * from './inference';
export * from './preprocess';
export * from './flip-fusion';
export * from './train-ops';

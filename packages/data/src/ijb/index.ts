export * from './meta';
export * from './read-meta';
export { TokenLines, Int32Builder, type Delimiter } from './text-lines';

/** One jest run over every package; each package's tests live in packages/<name>/test. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleNameMapper: { '^@facecoreset/(.*)$': '<rootDir>/packages/$1/src/index.ts' },
  testTimeout: 120000,
  maxWorkers: 2,
};

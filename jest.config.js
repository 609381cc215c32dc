/**
 * jest runs TypeScript through ts-jest in CommonJS mode, transpile-only (type checking is `tsc --noEmit`,
 * which `npm test` runs first). CommonJS is why `jose` is pinned to 5.x (dual CJS/ESM): jose 6 is
 * ESM-only and would force jest's experimental VM-modules mode on every test. ESM-only packages that
 * only the local runtime needs (fauxqs) run in child processes started by the e2e tests.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  setupFiles: ['<rootDir>/test/helpers/env.ts'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: process.env.CI ? 2 : '50%',
};

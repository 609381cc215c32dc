// Lint: typescript-eslint's type-aware recommended rules over every TypeScript file (server, local
// runtime, infra, bench, tests and the browser client, each with its own tsconfig). Formatting is
// Prettier's job (`prettier --check`), so no stylistic rules here. `npm test` runs both with 0 warnings.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'cdk.out/',
      '.local/',
      'coverage/',
      'client/dist/',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.json', './client/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    // Tests and benches: jest's asymmetric matchers (expect.any, expect.stringContaining, ...) are
    // typed `any`, CloudFormation templates and parsed frames are untyped JSON that the assertions
    // check, and fakes implement async interfaces without awaiting anything. The `no-unsafe-*`
    // family and require-await would flag every one of those; `no-explicit-any` stays on.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
);

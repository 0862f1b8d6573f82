// Lint: TypeScript rules plus Nx's module-boundary rule, which enforces the package layering:
// base (common) <- core (data, model, tracking) <- stage (extract, train, eval) <- app (pipeline).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'artifacts/**', 'mlruns/**', '.nx/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          enforceBuildableLibDependency: false,
          depConstraints: [
            { sourceTag: 'layer:base', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'layer:core', onlyDependOnLibsWithTags: ['layer:base'] },
            { sourceTag: 'layer:stage', onlyDependOnLibsWithTags: ['layer:base', 'layer:core'] },
            { sourceTag: 'layer:app', onlyDependOnLibsWithTags: ['layer:base', 'layer:core', 'layer:stage'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

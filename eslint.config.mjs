// Botpress's ESLint settings (botpress/botpress eslint.config.mjs), without the oxlint pass and
// with Prettier run on its own by `npm run lint`. Unlike Botpress, tests are linted too: a
// floating promise in a test is as wrong as one in the integration.
import stylistic from '@stylistic/eslint-plugin'
import importPlugin from 'eslint-plugin-import'
import jsdoc from 'eslint-plugin-jsdoc'
import unusedImports from 'eslint-plugin-unused-imports'
import tseslint from 'typescript-eslint'

export default [
  {
    ignores: ['**/*.d.ts', '**/*.{js,cjs,mjs,mts,jsx}', 'node_modules/', '.botpress/', 'dist/']
  },
  {
    files: ['**/*.ts'],
    plugins: {
      jsdoc,
      'unused-imports': unusedImports,
      '@stylistic': stylistic,
      '@typescript-eslint': tseslint.plugin,
      import: importPlugin
    },
    languageOptions: {
      parser: tseslint.parser,
      ecmaVersion: 'latest',
      sourceType: 'module',
      parserOptions: {
        project: ['./tsconfig.json'],
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      complexity: ['off'],
      'max-lines-per-function': 'off',
      'prefer-const': 'warn',
      '@stylistic/member-delimiter-style': [
        'error',
        {
          multiline: { delimiter: 'none', requireLast: true },
          singleline: { delimiter: 'semi', requireLast: false }
        }
      ],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@stylistic/semi': ['error', 'never'],
      '@stylistic/type-annotation-spacing': 'error',
      '@stylistic/brace-style': 'off',
      '@stylistic/eol-last': 'error',
      eqeqeq: ['error', 'smart'],
      '@typescript-eslint/no-shadow': 'off',
      'import/order': [
        'warn',
        {
          groups: [['builtin', 'external'], 'parent', 'index', 'sibling'],
          alphabetize: { order: 'asc', caseInsensitive: true },
          pathGroupsExcludedImportTypes: ['builtin']
        }
      ],
      'jsdoc/check-alignment': 'error',
      '@stylistic/linebreak-style': ['error', 'unix'],
      '@stylistic/no-trailing-spaces': 'error',
      'object-shorthand': 'error',
      'unused-imports/no-unused-imports': 'error',
      'unused-imports/no-unused-vars': [
        'error',
        { vars: 'all', varsIgnorePattern: '^_', args: 'after-used', argsIgnorePattern: '^_' }
      ],
      '@typescript-eslint/naming-convention': [
        'warn',
        { selector: 'memberLike', modifiers: ['private'], format: ['camelCase'], leadingUnderscore: 'require' }
      ],
      '@typescript-eslint/explicit-member-accessibility': 'warn'
    }
  }
]

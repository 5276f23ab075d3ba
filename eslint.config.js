// ESLint 9 flat config (`npm run lint`). It looks for real defects, not style: Prettier owns the
// layout (`npm run format:check`), and eslint-config-prettier, last, turns off every rule that
// would fight it. The presets are the untyped ones (no type-aware rules): `npm run typecheck`
// already runs in CI, and type-aware linting of the whole tree would cost more than it finds.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The dashboard's browser code is not code the compiler sees: each src/http/dashboard/client-*.ts
// exports one String.raw`…` template whose text is served as /dashboard/*.js. This processor lints
// the .ts file as usual and, beside it, the template's text as a browser ES module (a virtual
// client-*.ts/0_served.js), with its findings moved to their lines in the .ts file. Findings in
// the served code get no autofix (its text sits inside a template literal).
const SERVED_JS_START = 'String.raw`\n';
const lineOffsets = new Map();
const servedScript = {
  meta: { name: 'logwise/served-script' },
  supportsAutofix: true,
  preprocess(text, filename) {
    const start = text.indexOf(SERVED_JS_START);
    const end = start < 0 ? -1 : text.indexOf('`', start + SERVED_JS_START.length);
    if (end < 0) {
      lineOffsets.delete(filename);
      return [text];
    }
    const from = start + SERVED_JS_START.length;
    lineOffsets.set(filename, text.slice(0, from).split('\n').length - 1);
    return [text, { text: text.slice(from, end), filename: 'served.js' }];
  },
  postprocess([own = [], served = []], filename) {
    const offset = lineOffsets.get(filename) ?? 0;
    lineOffsets.delete(filename);
    return [
      ...own,
      ...served.map(({ fix: _fix, suggestions: _suggestions, ...m }) => ({
        ...m,
        line: m.line + offset,
        ...(m.endLine === undefined ? {} : { endLine: m.endLine + offset }),
      })),
    ];
  },
};

export default defineConfig([
  globalIgnores(['node_modules/', 'dist/', 'coverage/', 'data/', '.services/', 'test-artifacts/', 'bench/results/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names are unused on purpose: vitest each() rows' labels (`_name`), callback
      // parameters before the one needed (`(_, i) =>`), a field dropped by destructuring (`_id`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // A `let` read by a closure before its one assignment (an onTestFailed handler, a callback
      // handed to the constructor that makes the value) cannot be a `const`: it would throw.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `cond ? (a += 1) : (b += 1);` is a statement on purpose; a bare `expect(x).toBe;` is not.
      '@typescript-eslint/no-unused-expressions': ['error', { allowTernary: true }],
      // `interface A extends B {}` names a type; an empty `{}` elsewhere is still reported.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
    },
  },
  {
    // Tests and benchmarks read untyped JSON bodies and poke at internals; the daemon has no `any`.
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Everything but the served browser code runs on Node.
    ignores: ['src/http/dashboard/client-*.ts/**'],
    languageOptions: { globals: globals.node },
  },
  { files: ['src/http/dashboard/client-*.ts'], processor: servedScript },
  {
    files: ['src/http/dashboard/client-*.ts/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  prettier,
]);

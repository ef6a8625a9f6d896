/* global module */
/**
 * The architecture lint (npm run lint:architecture, part of npm run check): the floors of
 * gateway/src and the imports allowed between them. README.md, "Architecture", explains them.
 *
 *   0 kernel        config/, errors/, identity/, logging/        imports nothing of ours
 *   1 adapters      db/, redis/, kratos/, keys/, mail/, files/   the kernel
 *   2 domain        session/, access/, factors/, audit/, lockout/, security/, profiles/, notices/
 *                                                                the kernel, adapters, other domain folders
 *   3 capabilities  login/, passkeys/, stepup/, account/, jars/, admin/, hooks/, keys/operations/
 *                                                                the floors below, never a sibling capability
 *   4 http          http/, openapi/                              everything below
 *   5 entry         app.ts, build-deps.ts, deps.ts, main.ts, cli/
 */
const SRC = '^gateway/src/';
const KERNEL = `${SRC}((config|errors|identity|logging)/|config\\.ts$)`;
const ADAPTERS = `${SRC}(db|redis|kratos|keys(?!/operations/)|mail|files)/`;
const DOMAIN = `${SRC}(session|access|factors|audit|lockout|security|profiles|notices)/`;
const CAPABILITIES = `${SRC}(login|passkeys|stepup|account|jars|admin|hooks|keys/operations)/`;
const HTTP = `${SRC}(http|openapi)/`;

/**
 * Files that are Express middleware or mount routes: the only ones that may import express.
 * Use cases take a request context ({ ip, requestId, session }) and narrow dependencies.
 */
const EXPRESS_AWARE = [
  '(^|/)routes\\.ts$',
  `${SRC}http/`,
  `${SRC}app\\.ts$`,
  `${SRC}openapi/document\\.ts$`,
  // Domain middleware: the session layer, the principal resolver, the guards, the rate limiters.
  `${SRC}session/session-store\\.ts$`,
  `${SRC}session/resolve-principal\\.ts$`,
  `${SRC}session/request-context\\.ts$`,
  `${SRC}access/require-auth\\.ts$`,
  `${SRC}access/privileged\\.ts$`,
  `${SRC}access/policy-middleware\\.ts$`,
  `${SRC}security/`,
  `${SRC}hooks/webhook-key\\.ts$`,
  // Route guards.
  `${SRC}admin/require-admin\\.ts$`,
];

module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment:
        'Imports between the folders of gateway/src run one way: no two folders import each other, directly or around a loop.',
      scope: 'folder',
      from: { path: '^gateway/src' },
      to: { path: '^gateway/src', circular: true },
    },
    {
      name: 'kernel-imports-nothing-of-ours',
      severity: 'error',
      comment: 'The kernel (configuration, errors, identity rules, logging) sits below everything.',
      from: { path: KERNEL },
      to: { path: SRC, pathNot: KERNEL },
    },
    {
      name: 'adapters-import-only-the-kernel',
      severity: 'error',
      comment:
        'One adapter per outside system, plain typed objects in and out: it knows no other adapter and no rule of the product.',
      from: { path: ADAPTERS },
      to: { path: SRC, pathNot: [KERNEL, `${SRC}$1/`] },
    },
    {
      name: 'domain-stays-below-capabilities',
      severity: 'error',
      comment:
        'The product rules are independent of any one route: they never import a capability, http or the entry.',
      from: { path: DOMAIN },
      to: { path: SRC, pathNot: [KERNEL, ADAPTERS, DOMAIN] },
    },
    {
      name: 'capabilities-are-siblings',
      severity: 'error',
      comment:
        'A capability uses the floors below it, never another capability: what two share belongs on the domain floor.',
      from: { path: CAPABILITIES },
      to: { path: SRC, pathNot: [KERNEL, ADAPTERS, DOMAIN, `${SRC}$1/`] },
    },
    {
      name: 'http-stays-below-the-entry',
      severity: 'error',
      comment:
        'http/ and openapi/ serve the app; only the entry (app.ts, build-deps.ts, main.ts, cli/) assembles it.',
      from: { path: HTTP },
      to: { path: `${SRC}([^/]+\\.ts$|cli/)`, pathNot: KERNEL },
    },
    {
      name: 'only-routes-and-middleware-import-express',
      severity: 'error',
      comment:
        'Use cases take a request context and narrow dependencies, so they run (and are tested) without HTTP.',
      from: { path: SRC, pathNot: EXPRESS_AWARE },
      to: {
        path: '^(express|express-serve-static-core|express-rate-limit)$|node_modules/(@types/)?(express|express-serve-static-core|express-rate-limit)/',
      },
    },
    {
      name: 'gateway-never-imports-tests',
      severity: 'error',
      comment: 'Tests and scripts may import the gateway; the gateway never imports them.',
      from: { path: '^gateway/' },
      to: { path: '^(tests|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^gateway/public/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

// The layers of src/ (README, "Development"), checked by `npm run lint:deps` in `npm test`'s lint step:
//
//   util  ←  core  ←  providers  ←  cli (src/cli/, src/cli.ts)  /  vscode (src/vscode/, src/extension.ts)
//
// An arrow points at what a layer may import; nothing imports upwards or sideways between the two front
// ends, nothing imports in a circle, and only the editor layer (plus the Language Model API provider)
// imports `vscode`. Type-only imports count like any other: a type that core borrows from providers is
// the same coupling as a function, and moving it down is what keeps core testable in plain Node.
// test/unit/tooling/layers.test.ts plants one violation of each rule and checks it fires by name.

/** Anything of ours outside the given folders. */
const outside = (...allowed) => `^src/(?!(?:${allowed.join('|')})/)`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports: no module in it can be read, tested or moved without the others. Break it by moving the shared part down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'util-imports-nothing-of-ours',
      severity: 'error',
      comment: 'src/util/ is the bottom layer: small helpers with no knowledge of the product. It imports only Node and other util modules.',
      from: { path: '^src/util/' },
      to: { path: outside('util') },
    },
    {
      name: 'core-imports-only-util-and-core',
      severity: 'error',
      comment: 'src/core/ (the engine) imports only util and core: never providers, cli or vscode. Move a shared type or function down into core or util.',
      from: { path: '^src/core/' },
      to: { path: outside('util', 'core') },
    },
    {
      name: 'providers-import-only-util-core-providers',
      severity: 'error',
      comment: 'src/providers/ imports util, core and providers: never a front end (cli, vscode, the entry points).',
      from: { path: '^src/providers/' },
      to: { path: outside('util', 'core', 'providers') },
    },
    {
      name: 'cli-never-imports-vscode',
      severity: 'error',
      comment: 'The CLI (src/cli/, src/cli.ts) runs in plain Node: it never imports the editor layer (src/vscode/, src/extension.ts).',
      from: { path: '^src/(cli/|cli\\.ts$)' },
      to: { path: '^src/(vscode/|extension\\.ts$)' },
    },
    {
      name: 'vscode-never-imports-cli',
      severity: 'error',
      comment: 'The two front ends share through core (core/session), never by importing each other.',
      from: { path: '^src/(vscode/|extension\\.ts$)' },
      to: { path: '^src/(cli/|cli\\.ts$)' },
    },
    {
      name: 'vscode-only-in-the-editor-layer',
      severity: 'error',
      comment: "Only src/vscode/, src/extension.ts and src/providers/languageModelApi.ts import 'vscode' (DESIGN.md, \"Boundaries\"); everything else runs in plain Node.",
      from: { path: '^src/', pathNot: '^src/(vscode/|extension\\.ts$|providers/languageModelApi\\.ts$)' },
      to: { path: '^(vscode$|node_modules/@types/vscode/)' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: "An import the cruiser cannot resolve would escape every rule above; 'vscode' (types only, supplied by the host) is the one exception.",
      from: { path: '^src/' },
      to: { couldNotResolve: true, pathNot: '^vscode$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules may be a symlink (to a shared install): keep the paths under node_modules/.
    preserveSymlinks: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports (`import type`, `import('…').T`) are dependencies too (see the opening comment).
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

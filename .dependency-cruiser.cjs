/**
 * Layer rules of snapback (docs/architecture.md, "Layout"), checked by `make lint` with dependency-cruiser
 * (https://github.com/sverweij/dependency-cruiser/blob/main/doc/rules-reference.md).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: neither can be read, tested or replaced alone.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-to-functions',
      severity: 'error',
      comment:
        'The handlers (functions/) use the transport (src/http/) and the rest of src/, never the other way: ' +
        'bin/snapback.ts composes them.',
      from: { path: '^src/' },
      to: { path: '^functions/' },
    },
    {
      name: 'lib-not-to-executor-or-agent',
      severity: 'error',
      comment: 'src/lib/ drives tools (criu, cuda, containerd, storage …); the workflows above it use it.',
      from: { path: '^src/lib/' },
      to: { path: '^src/(executor|agent|dispatch|http|events|watch|cli|demo)/' },
    },
    {
      name: 'executor-not-to-transport',
      severity: 'error',
      comment:
        'The executor is the checkpoint/restore workflow; gRPC (src/agent/) and HTTP (src/http/) carry it.',
      from: { path: '^src/executor/' },
      to: { path: '^src/(agent|http|dispatch|events|watch|cli|demo)/|^src/generated/snapback/' },
    },
    {
      name: 'events-not-to-storage',
      severity: 'error',
      comment: 'Events are data and their rules; ids come from src/ids.ts, not from the storage library.',
      from: { path: '^src/events/' },
      to: { path: '^src/(lib|executor|agent|dispatch|http|cli|demo)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

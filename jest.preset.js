// Shared Jest settings: SWC transpiles TypeScript (with decorator metadata, as the build does) and
// `@herald/*` imports resolve to the libraries' sources.
const path = require('node:path');

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { swcrc: false, ...require('./swc.jest.json') }],
    // jose 6 ships ES modules only; Node 20 loads them through require(esm) at run time, but Jest's
    // module loader does not, so Jest compiles them to CommonJS.
    '/node_modules/jose/.+\\.js$': ['@swc/jest', { swcrc: false, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@herald/(.*)$': path.join(__dirname, 'libs/$1/src/index.ts'),
  },
};

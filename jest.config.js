// One Jest run, three tiers (and the soak tier, run on its own). `npm test` builds first because the
// e2e tier starts the built apps.
const preset = require('./jest.preset');

const tier = (displayName, testMatch, timeoutMs) => ({
  ...preset,
  displayName,
  rootDir: __dirname,
  testMatch,
  ...(timeoutMs && {
    globals: { tierTimeoutMs: timeoutMs },
    setupFilesAfterEnv: ['<rootDir>/scripts/jest/tier-timeout.js'],
  }),
});

module.exports = {
  projects: [
    tier('unit', ['<rootDir>/{apps,libs}/**/*.spec.ts']),
    // I/O tiers share two cores with the processes they start: generous per-test deadlines, so a
    // slow moment fails only a test that really hangs.
    tier('integration', ['<rootDir>/{apps,libs}/**/*.int-spec.ts'], 20_000),
    tier('e2e', ['<rootDir>/e2e/**/*.e2e-spec.ts'], 60_000),
    // Not part of `npm test`: `npm run test:soak` (scripts/test.mjs selects the three tiers above).
    tier('soak', ['<rootDir>/soak/**/*.soak-spec.ts'], 600_000),
  ],
};

// Jest reads `testTimeout` from the global configuration only, so a per-project value in
// jest.config.js is silently ignored; each I/O tier sets its own deadline here instead.
jest.setTimeout(globalThis.tierTimeoutMs);

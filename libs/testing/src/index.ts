export * from './eventually';
export * from './hub-client';
export * from './nats-namespace';
export * from './nats-server-process';
export * from './service-process';
export * from './test-issuer';
export * from './raw-socket';
export * from './fakes';

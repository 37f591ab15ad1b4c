export * from './close-reason';
export * from './hub-connection';
export * from './hub-definition';
export * from './signalr-server';
export * from './negotiation-registry';
export * from './signalr-gateway';
export * from './signalr.adapter';

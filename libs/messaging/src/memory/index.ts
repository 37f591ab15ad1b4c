export * from './clock';
export * from './memory-broker';

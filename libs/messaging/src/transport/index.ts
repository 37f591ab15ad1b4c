export * from './broker-patterns';
export * from './broker-transport';
export * from './consume-error.filter';

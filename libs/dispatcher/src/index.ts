export * from './config/dispatcher.config';
export * from './dispatcher.module';
export * from './services/routing';
export { dispatcherConsumers } from './consumers/events.consumer';

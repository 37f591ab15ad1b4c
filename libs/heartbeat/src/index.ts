export * from './config/heartbeat.config';
export * from './heartbeat.module';
export * from './services/cluster-state.service';

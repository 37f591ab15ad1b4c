export * from './config/vaultwarden-bridge.config';
export * from './repositories/vaultwarden-database.repository';
export * from './sql/bridge-sql';
export * from './vaultwarden-bridge.module';

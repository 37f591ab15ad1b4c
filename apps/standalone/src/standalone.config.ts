import { type DispatcherConfig, dispatcherConfigSchema } from '@herald/dispatcher';
import { type GatewayConfig, gatewayConfigSchema } from '@herald/gateway';
import { type HeartbeatConfig, heartbeatConfigSchema } from '@herald/heartbeat';
import { ConfigError, loadConfig } from '@herald/platform';
import { type PushConfig, pushConfigSchema } from '@herald/push';
import { embeddedBridgeConfigSchema } from '@herald/vaultwarden';

/** Every service's configuration, read from the one environment of the single process. */
export interface StandaloneConfig {
  gateway: GatewayConfig;
  dispatcher: DispatcherConfig;
  push: PushConfig;
  heartbeat: HeartbeatConfig;
  /** HERALD_VAULTWARDEN_DATABASE_URL: when set, the Vaultwarden bridge runs in the process too. */
  vaultwardenDatabaseUrl?: string;
}

/** The ports of the services that run on their own; in one process everything is on HERALD_GATEWAY_PORT. */
const UNUSED_HERE = [
  'HERALD_DISPATCHER_PORT',
  'HERALD_PUSH_PORT',
  'HERALD_HEARTBEAT_PORT',
  'HERALD_VAULTWARDEN_BRIDGE_PORT',
] as const;

export function loadStandaloneConfig(env: NodeJS.ProcessEnv = process.env): StandaloneConfig {
  const problems: string[] = [];
  const read = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) if (!problems.includes(problem)) problems.push(problem);
      return undefined;
    }
  };
  const gateway = read(() => loadConfig(gatewayConfigSchema, env));
  const dispatcher = read(() => loadConfig(dispatcherConfigSchema, env));
  const push = read(() => loadConfig(pushConfigSchema, env));
  const heartbeat = read(() => loadConfig(heartbeatConfigSchema, env));
  const bridge = read(() => loadConfig(embeddedBridgeConfigSchema, env));
  for (const name of UNUSED_HERE) {
    if (env[name])
      problems.push(
        `${name}: not used by the single process, which serves everything on HERALD_GATEWAY_PORT`,
      );
  }
  if (problems.length > 0 || !gateway || !dispatcher || !push || !heartbeat || !bridge) {
    throw new ConfigError(problems);
  }
  return {
    gateway,
    dispatcher,
    push,
    heartbeat,
    ...(bridge.HERALD_VAULTWARDEN_DATABASE_URL
      ? { vaultwardenDatabaseUrl: bridge.HERALD_VAULTWARDEN_DATABASE_URL }
      : {}),
  };
}

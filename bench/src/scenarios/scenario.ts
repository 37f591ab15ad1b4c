import { type ServerName } from '../servers/servers';
import { type BenchContext, type BenchOptions, type OpenSession } from '../session';

export const SCENARIO_NAMES = ['fanout', 'idle', 'storm', 'pipeline', 'scale', 'standalone'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/**
 * One scenario, run on each of its servers in turn; `open` starts a session on that server (what
 * `setup` asks beside it, and the previous session stopped first); `earlier` holds the servers
 * already measured in this run.
 */
export interface Scenario<Result> {
  name: ScenarioName;
  /** How its notifications reach the server, for the record and the docs. */
  feed?(options: BenchOptions): string;
  /** The servers it runs on, given those `--servers` asked for (or the default three). */
  servers(requested: ServerName[]): ServerName[];
  run(
    open: OpenSession,
    context: BenchContext,
    earlier: Partial<Record<ServerName, Result>>,
  ): Promise<Result>;
}

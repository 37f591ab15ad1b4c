import { type ServerName } from '../servers/servers';
import { type BenchContext, type ServerSession } from '../session';

export const SCENARIO_NAMES = ['fanout', 'idle', 'storm'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** One scenario, run on each server in turn; `earlier` holds the servers already measured in this run. */
export interface Scenario<Result> {
  name: ScenarioName;
  run(
    session: ServerSession,
    context: BenchContext,
    earlier: Partial<Record<ServerName, Result>>,
  ): Promise<Result>;
}

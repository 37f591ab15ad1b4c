import { Injectable } from '@nestjs/common';

export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
}

/** Dependencies register what "ready" means for them (NATS connected, database reachable…). */
@Injectable()
export class HealthService {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Once shutdown starts the service reports not ready, so load balancers stop sending to it. */
  markDraining(): void {
    this.draining = true;
  }

  async readiness(): Promise<ReadinessReport> {
    const checks: Record<string, boolean> = { accepting: !this.draining };
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          checks[name] = await check();
        } catch {
          checks[name] = false;
        }
      }),
    );
    return { ready: Object.values(checks).every(Boolean), checks };
  }
}

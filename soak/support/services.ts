import { type HeraldApp, ServiceProcess } from '@herald/testing';

/** A soak machine is busy (two cores shared with everything else): apps get long to start. */
const START_TIMEOUT_MS = 90_000;

/**
 * The built apps one soak test runs. Every process that started is kept here, also when a sibling
 * failed to start, so that `stopAll()` leaves nothing behind.
 */
export class Services {
  readonly all: ServiceProcess[] = [];

  async start(app: HeraldApp, env: Record<string, string>, nodeArgs: string[] = []): Promise<ServiceProcess> {
    const service = await ServiceProcess.start(app, env, START_TIMEOUT_MS, nodeArgs);
    this.all.push(service);
    return service;
  }

  /** Starts them side by side; resolves in the order given, or rejects once all have settled. */
  async startAll(specs: [HeraldApp, Record<string, string>, string[]?][]): Promise<ServiceProcess[]> {
    const results = await Promise.allSettled(
      specs.map(([app, env, nodeArgs]) => this.start(app, env, nodeArgs)),
    );
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((result) => (result as PromiseFulfilledResult<ServiceProcess>).value);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((service) => service.stop()));
  }
}

import { Inject, Injectable } from '@nestjs/common';

import { type Delivery } from '@herald/contracts';

import { type GatewayConfig } from '../config/gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { type GatewayConnection } from './gateway-connection';

/** Where a device connection's replay starts and ends, from its setup to the end of its replay. */
export interface Resume {
  /** Where the previous connection stopped; undefined when the device is unknown. */
  from: number | undefined;
  /** The stream's last sequence once this connection's subscriptions were live. */
  upTo: number;
  /** Presence could not be read: the device is told to sync. */
  failed: boolean;
}

/**
 * Every connection's replay state, in one place: its resume point while the replay has not
 * finished, and the live traffic held for it meanwhile (in arrival order, bounded by
 * `HERALD_REPLAY_MAX_HELD`; past the bound it is dropped and marked, so the device gets a
 * SyncVault instead of a silent gap).
 */
@Injectable()
export class ReplayState {
  private readonly held = new Map<GatewayConnection, Delivery[] | 'overflow'>();
  private readonly resumes = new Map<GatewayConnection, Resume>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'HERALD_REPLAY_MAX_HELD'>,
  ) {}

  /** From now on, live deliveries for this connection are held until `release`. */
  hold(connection: GatewayConnection): void {
    this.held.set(connection, []);
  }

  /**
   * Offers one live delivery for a connection: true when the connection is in replay and the
   * delivery was taken (held, or dropped past the bound), false when it is to be written now.
   */
  keep(connection: GatewayConnection, delivery: Delivery): boolean {
    const held = this.held.get(connection);
    if (held === undefined) return false;
    if (held !== 'overflow') {
      if (held.length >= this.config.HERALD_REPLAY_MAX_HELD) this.held.set(connection, 'overflow');
      else held.push(delivery);
    }
    return true;
  }

  /** Stops holding: what was held, in order, or `overflow` when it passed the bound. */
  release(connection: GatewayConnection): readonly Delivery[] | 'overflow' {
    const held = this.held.get(connection);
    this.held.delete(connection);
    return held ?? [];
  }

  setResume(connection: GatewayConnection, resume: Resume): void {
    this.resumes.set(connection, resume);
  }

  resumeOf(connection: GatewayConnection): Resume | undefined {
    return this.resumes.get(connection);
  }

  /** The replay was served (or failed): the connection's resume point is no longer pending. */
  clearResume(connection: GatewayConnection): void {
    this.resumes.delete(connection);
  }

  /** The connection is gone: forgets it, and returns its resume point if its replay never finished. */
  forget(connection: GatewayConnection): Resume | undefined {
    const resume = this.resumes.get(connection);
    this.resumes.delete(connection);
    this.held.delete(connection);
    return resume;
  }
}

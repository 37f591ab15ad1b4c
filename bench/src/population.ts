import { randomUUID } from 'node:crypto';

import { type DeliveryKind } from '@herald/contracts';
import { type TestIssuer } from '@herald/testing';

import { type LoadClient, type RealClientSpec } from './load/load-protocol';

/** A delivery target: a user's devices or an organization's members. */
export interface Group {
  kind: Extract<DeliveryKind, 'user' | 'org'>;
  id: string;
  /** Load-generator connections in the group: the receipts one delivery to it is owed. */
  members: number;
}

/**
 * Who connects: users with one or two devices each (one connection per device), every user in
 * one organization of about ORGANIZATION_SIZE users and in one organization that everyone is in,
 * as an instance where an admin team's collection changes reach all staff.
 */
export interface Population {
  clients: LoadClient[];
  users: Group[];
  organizations: Group[];
  everyone: Group;
  real: RealClientSpec[];
  /** The real clients' own organization: no load connection is in it. */
  realOrganization: Group;
}

const ORGANIZATION_SIZE = 100;
const REAL_CLIENTS = 3;
/** Connections per loopback source address, so that no address runs short of ephemeral ports. */
const CONNECTIONS_PER_ADDRESS = 1000;

/** A small seeded generator (mulberry32), so that every run has the same population shape. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mints every token up front (ES256, verified by Herald): a storm must not wait for its tokens. */
export async function buildPopulation(issuer: TestIssuer, connections: number): Promise<Population> {
  const random = seeded(14);
  const devicesPerUser: number[] = [];
  for (let placed = 0; placed < connections;) {
    const devices = Math.min(random() < 0.5 ? 1 : 2, connections - placed);
    devicesPerUser.push(devices);
    placed += devices;
  }
  const everyone: Group = { kind: 'org', id: randomUUID(), members: 0 };
  const organizations: Group[] = Array.from(
    { length: Math.max(1, Math.round(devicesPerUser.length / ORGANIZATION_SIZE)) },
    () => ({ kind: 'org', id: randomUUID(), members: 0 }),
  );
  const users: Group[] = [];
  const minting: Promise<LoadClient>[] = [];
  devicesPerUser.forEach((devices, index) => {
    const user: Group = { kind: 'user', id: randomUUID(), members: devices };
    users.push(user);
    const organization = organizations[index % organizations.length]!;
    organization.members += devices;
    everyone.members += devices;
    for (let device = 0; device < devices; device += 1) {
      const address = `127.0.2.${1 + (Math.floor(minting.length / CONNECTIONS_PER_ADDRESS) % 250)}`;
      minting.push(
        issuer
          .userToken(user.id, { orguser: [organization.id, everyone.id] })
          .then((token) => ({ token, localAddress: address })),
      );
    }
  });
  const realOrganization: Group = { kind: 'org', id: randomUUID(), members: 0 };
  const real = await Promise.all(
    Array.from({ length: REAL_CLIENTS }, async () => {
      const userId = randomUUID();
      const organizationIds = [realOrganization.id, everyone.id];
      return { userId, organizationIds, token: await issuer.userToken(userId, { orguser: organizationIds }) };
    }),
  );
  return { clients: await Promise.all(minting), users, organizations, everyone, real, realOrganization };
}

/**
 * The fan-out mix, repeated: one delivery to everyone, one to each organization, then as many
 * per-user deliveries (the next users in turn). By receipts, org-wide traffic dominates, as in
 * an instance where shared collections change; by NATS messages, per-user deliveries do.
 */
export class TargetCycle {
  private position = 0;
  private nextUser = 0;

  constructor(private readonly population: Population) {}

  next(): Group {
    const { organizations, users, everyone } = this.population;
    const round = 1 + organizations.length * 2;
    const slot = this.position++ % round;
    if (slot === 0) return everyone;
    if (slot <= organizations.length) return organizations[slot - 1]!;
    return users[this.nextUser++ % users.length]!;
  }
}

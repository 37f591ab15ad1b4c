import { type Random } from './random';
import { CLIENT_TYPES, type PublishedEvent } from './routing-oracle';

/** What the generator may aim at: the population's ids, and the auth requests being waited on. */
export interface Population {
  userIds: readonly string[];
  organizationIds: readonly string[];
  /** Device ids per user (the ContextId an acting device would put on its own change). */
  devicesOf(userId: string): readonly string[];
  /** Auth-request ids with a waiter on the anonymous hub right now (maybe none). */
  waitingTokens(): readonly string[];
  /** The installation the gateways serve (HERALD_INSTALLATION_ID). */
  installationId: string;
}

/**
 * A random event of any of the 28 PushTypes' routing shapes: user events, cipher events for a user,
 * an organization, both or neither, organization events, Notifications per installation, user or
 * organization with a client type, provider and auto-confirm events naming a second user, and
 * auth-request responses for the anonymous hub. About one target in ten is an id nobody holds.
 * `Payload.SoakId` names the event, so every copy that arrives can be checked against it.
 */
export function randomEvent(random: Random, population: Population, soakId: string): PublishedEvent {
  const now = new Date().toISOString();
  const user = () => (random.chance(0.9) ? random.pick(population.userIds) : random.uuid());
  const organization = () => (random.chance(0.9) ? random.pick(population.organizationIds) : random.uuid());
  const roll = random.next();
  let type: number;
  let payload: Record<string, unknown>;
  let actor: string | undefined;
  if (roll < 0.3) {
    actor = user();
    type = random.pick([3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 17, 22, 27]);
    if ([3, 7, 8, 12, 13, 14].includes(type))
      payload = { Id: random.uuid(), UserId: actor, RevisionDate: now };
    else if (type === 11) payload = { UserId: actor, Reason: random.int(2) };
    else if (type === 15) payload = { Id: random.uuid(), UserId: actor };
    else if (type === 27) payload = { UserId: actor, Premium: random.chance(0.5) };
    else payload = { UserId: actor, Date: now };
  } else if (roll < 0.5) {
    type = random.pick([0, 1, 2, 9]);
    const shape = random.int(4);
    payload = { Id: random.uuid(), RevisionDate: now };
    if (shape === 0 || shape === 2) payload.UserId = actor = user();
    if (shape === 1 || shape === 2) {
      payload.OrganizationId = organization();
      payload.CollectionIds = [random.uuid()];
    }
  } else if (roll < 0.68) {
    type = random.pick([18, 19, 23, 25]);
    const organizationId = organization();
    if (type === 18) payload = { OrganizationId: organizationId, Enabled: random.chance(0.5) };
    else if (type === 19) {
      payload = {
        OrganizationId: organizationId,
        LimitCollectionCreation: random.chance(0.5),
        LimitCollectionDeletion: random.chance(0.5),
        LimitItemDeletion: random.chance(0.5),
      };
    } else if (type === 23) payload = { OrganizationId: organizationId };
    else {
      payload = {
        OrganizationId: organizationId,
        Policy: {
          Id: random.uuid(),
          OrganizationId: organizationId,
          Type: random.int(20),
          Enabled: true,
          CreationDate: now,
          RevisionDate: now,
        },
      };
    }
  } else if (roll < 0.85) {
    type = random.pick([20, 21]);
    payload = {
      Id: random.uuid(),
      Priority: random.int(5),
      Global: false,
      ClientType: random.pick(CLIENT_TYPES),
      Title: 'soak',
      Body: 'isolation',
      CreationDate: now,
      RevisionDate: now,
    };
    const shape = random.next();
    // Our installation reaches every connection of its client type: kept rare, it is a broadcast.
    if (shape < 0.03) payload.InstallationId = population.installationId;
    else if (shape < 0.1) {
      // Another installation wins over the user named beside it: nobody here gets it.
      payload.InstallationId = random.uuid();
      payload.UserId = user();
    } else if (shape < 0.5) payload.UserId = actor = user();
    else if (shape < 0.9) payload.OrganizationId = organization();
  } else if (roll < 0.88) {
    type = 24;
    payload = { ProviderId: random.uuid(), AdminId: (actor = user()) };
  } else if (roll < 0.91) {
    type = 26;
    // For UserId, not TargetUserId.
    payload = {
      UserId: (actor = user()),
      OrganizationId: organization(),
      TargetUserId: random.pick(population.userIds),
      TargetOrganizationUserId: random.uuid(),
    };
  } else {
    type = 16;
    const waiting = population.waitingTokens();
    const token = waiting.length > 0 && random.chance(0.85) ? random.pick(waiting) : random.uuid();
    payload = { Id: token, UserId: random.pick(population.userIds) };
  }
  payload.SoakId = soakId;
  return { type, payload, contextId: contextFor(random, population, actor) };
}

/** No acting device, the acting user's own device (clients ignore their own change), or another. */
function contextFor(random: Random, population: Population, actor: string | undefined): string | null {
  const roll = random.next();
  if (roll < 0.35) return null;
  const devices = actor ? population.devicesOf(actor) : [];
  if (roll < 0.75 && devices.length > 0) return random.pick(devices);
  return random.uuid();
}

import { ClientType, clientTypeOf, DeviceType, type PushJob } from '@herald/contracts';
import { type DeviceNamespace, type DeviceTargetQuery } from '@herald/persistence';

const DEVICE_TYPES = Object.values(DeviceType).filter(
  (value): value is DeviceType => typeof value === 'number',
);

/** The DeviceTypes of one client type (the registry stores device types). */
export function deviceTypesOf(clientType: ClientType): number[] | undefined {
  return clientType === ClientType.All
    ? undefined
    : DEVICE_TYPES.filter((type) => clientTypeOf(type) === clientType);
}

/**
 * Which registrations a push job reaches (docs/push.md, "Namespaces"), or undefined for none.
 *
 * - A relay job (`/push/send`) reaches its installation's namespace only; its installation target
 *   is every registration there.
 * - A vault event (the dispatcher's jobs) reaches the vault's own registrations: the users' own
 *   and, when `vaultInstallationId` (HERALD_INSTALLATION_ID) is set, that relay installation's —
 *   the vault's, when it uses Herald as its relay too. An installation-wide event reaches the
 *   registrations of that installation when it is the vault's; the users' own are in none.
 */
export function targetQueryOf(
  job: PushJob,
  vaultInstallationId: string | undefined,
): DeviceTargetQuery | undefined {
  const filters = { excludeIdentifier: job.excludeIdentifier, deviceTypes: deviceTypesOf(job.clientType) };
  const relayInstallationId = job.relayInstallationId?.toLowerCase();
  const namespaces: DeviceNamespace[] = relayInstallationId
    ? [relayInstallationId]
    : [null, ...(vaultInstallationId ? [vaultInstallationId] : [])];
  switch (job.target.kind) {
    case 'user':
      return { namespaces, userId: job.target.id, ...filters };
    case 'org':
      return { namespaces, organizationId: job.target.id, ...filters };
    case 'installation': {
      const installationId = job.target.id.toLowerCase();
      const own = relayInstallationId ?? vaultInstallationId;
      return installationId === own ? { namespaces: [own], everyone: true, ...filters } : undefined;
    }
  }
}

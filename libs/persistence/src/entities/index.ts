import { DeviceOrganizationEntity } from './device-organization.entity';
import { DeviceEntity } from './device.entity';
import { InstallationEntity } from './installation.entity';
import { SecretEntity } from './secret.entity';

export { DeviceEntity, DeviceOrganizationEntity, InstallationEntity, SecretEntity };

export const ENTITIES = [DeviceEntity, DeviceOrganizationEntity, InstallationEntity, SecretEntity];

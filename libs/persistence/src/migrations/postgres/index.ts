import { InitialSchema1795400000000 } from './1795400000000-initial-schema';
import { InstallationNamespaces1795500000000 } from './1795500000000-installation-namespaces';

/** Every PostgreSQL migration, oldest first. Listed explicitly: the build output has no .ts files to glob. */
export const POSTGRES_MIGRATIONS = [InitialSchema1795400000000, InstallationNamespaces1795500000000];

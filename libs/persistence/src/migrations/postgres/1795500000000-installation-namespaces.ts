import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Every registration belongs to one namespace: the relay installation that registered it, or the
 * users' own (stored as the nil GUID: a primary key column cannot be NULL, and no installation has
 * that id). `installation_id` becomes `namespace`; the device's key becomes (namespace, id), and
 * its memberships carry the namespace too, so two installations can register the same device id,
 * user id or organization id without meeting. The new indexes lead with the namespace, which
 * every query names.
 */
export class InstallationNamespaces1795500000000 implements MigrationInterface {
  name = 'InstallationNamespaces1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "device" ADD COLUMN "namespace" uuid`);
    await queryRunner.query(
      `UPDATE "device" SET "namespace" = COALESCE("installation_id", '00000000-0000-0000-0000-000000000000')`,
    );
    await queryRunner.query(`ALTER TABLE "device" ALTER COLUMN "namespace" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "device_organization" ADD COLUMN "namespace" uuid`);
    await queryRunner.query(`
      UPDATE "device_organization" AS "membership" SET "namespace" = "device"."namespace"
      FROM "device" WHERE "device"."id" = "membership"."device_id"`);
    await queryRunner.query(`ALTER TABLE "device_organization" ALTER COLUMN "namespace" SET NOT NULL`);

    await queryRunner.query(
      `ALTER TABLE "device_organization" DROP CONSTRAINT "FK_device_organization_device"`,
    );
    await queryRunner.query(`ALTER TABLE "device_organization" DROP CONSTRAINT "PK_device_organization"`);
    await queryRunner.query(`DROP INDEX "IDX_device_organization_organization_id"`);
    await queryRunner.query(`ALTER TABLE "device" DROP CONSTRAINT "PK_device"`);
    await queryRunner.query(`DROP INDEX "UQ_device_user_identifier"`);
    await queryRunner.query(`DROP INDEX "IDX_device_installation_id"`);
    await queryRunner.query(`ALTER TABLE "device" DROP COLUMN "installation_id"`);

    await queryRunner.query(
      `ALTER TABLE "device" ADD CONSTRAINT "PK_device" PRIMARY KEY ("namespace", "id")`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_device_namespace_user_identifier" ON "device" ("namespace", "user_id", "identifier")`,
    );
    await queryRunner.query(`
      ALTER TABLE "device_organization"
        ADD CONSTRAINT "PK_device_organization" PRIMARY KEY ("namespace", "device_id", "organization_id")`);
    await queryRunner.query(`
      ALTER TABLE "device_organization" ADD CONSTRAINT "FK_device_organization_device"
        FOREIGN KEY ("namespace", "device_id") REFERENCES "device" ("namespace", "id") ON DELETE CASCADE`);
    await queryRunner.query(
      `CREATE INDEX "IDX_device_organization_namespace_organization_id" ON "device_organization" ("namespace", "organization_id")`,
    );
  }

  /**
   * Back to one registry for everyone. It fails on the primary key (and changes nothing) while a
   * device id or a user's identifier is registered in two namespaces: remove one of them first.
   */
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "device" ADD COLUMN "installation_id" uuid`);
    await queryRunner.query(
      `UPDATE "device" SET "installation_id" = NULLIF("namespace", '00000000-0000-0000-0000-000000000000')`,
    );
    await queryRunner.query(`DROP INDEX "IDX_device_organization_namespace_organization_id"`);
    await queryRunner.query(
      `ALTER TABLE "device_organization" DROP CONSTRAINT "FK_device_organization_device"`,
    );
    await queryRunner.query(`ALTER TABLE "device_organization" DROP CONSTRAINT "PK_device_organization"`);
    await queryRunner.query(`ALTER TABLE "device_organization" DROP COLUMN "namespace"`);
    await queryRunner.query(`DROP INDEX "UQ_device_namespace_user_identifier"`);
    await queryRunner.query(`ALTER TABLE "device" DROP CONSTRAINT "PK_device"`);
    await queryRunner.query(`ALTER TABLE "device" DROP COLUMN "namespace"`);

    await queryRunner.query(`ALTER TABLE "device" ADD CONSTRAINT "PK_device" PRIMARY KEY ("id")`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_device_user_identifier" ON "device" ("user_id", "identifier")`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_device_installation_id" ON "device" ("installation_id")`);
    await queryRunner.query(`
      ALTER TABLE "device_organization"
        ADD CONSTRAINT "PK_device_organization" PRIMARY KEY ("device_id", "organization_id")`);
    await queryRunner.query(`
      ALTER TABLE "device_organization" ADD CONSTRAINT "FK_device_organization_device"
        FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE CASCADE`);
    await queryRunner.query(
      `CREATE INDEX "IDX_device_organization_organization_id" ON "device_organization" ("organization_id")`,
    );
  }
}

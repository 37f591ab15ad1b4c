import { type MigrationInterface, type QueryRunner } from 'typeorm';

const DEVICE_COLUMNS = `"id", "user_id", "identifier", "type", "provider", "push_token", "web_push_endpoint",
  "web_push_p256dh", "web_push_auth", "failure_count", "created_at", "updated_at"`;

/** The checks of `device`, the same in every version of the table. */
const DEVICE_CHECKS = `
    CONSTRAINT "CHK_device_provider" CHECK ("provider" IS NULL OR "provider" IN ('fcm', 'apns', 'webpush')),
    CONSTRAINT "CHK_device_web_push" CHECK (
      ("web_push_endpoint" IS NULL) = ("web_push_p256dh" IS NULL)
      AND ("web_push_endpoint" IS NULL) = ("web_push_auth" IS NULL)
    ),
    CONSTRAINT "CHK_device_failure_count" CHECK ("failure_count" >= 0)`;

/**
 * Every registration belongs to one namespace: the relay installation that registered it, or the
 * users' own (stored as the nil GUID: a primary key column cannot be NULL, and no installation has
 * that id). `installation_id` becomes `namespace`; the device's key becomes (namespace, id), and
 * its memberships carry the namespace too, so two installations can register the same device id,
 * user id or organization id without meeting.
 *
 * SQLite cannot change a primary key in place: both tables are rebuilt (new table, copy, drop,
 * rename; the rename also renames the foreign key's reference), inside the migration's transaction.
 */
export class InstallationNamespaces1795500000000 implements MigrationInterface {
  name = 'InstallationNamespaces1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "device_next" (
        "namespace" varchar(36) NOT NULL,
        "id" varchar(36) NOT NULL,
        "user_id" varchar(36) NOT NULL,
        "identifier" varchar(255) NOT NULL,
        "type" integer NOT NULL,
        "provider" varchar(16),
        "push_token" text,
        "web_push_endpoint" text,
        "web_push_p256dh" text,
        "web_push_auth" text,
        "failure_count" integer NOT NULL DEFAULT (0),
        "created_at" datetime NOT NULL,
        "updated_at" datetime NOT NULL,
        PRIMARY KEY ("namespace", "id"),${DEVICE_CHECKS}
      )`);
    await queryRunner.query(`
      INSERT INTO "device_next" ("namespace", ${DEVICE_COLUMNS})
      SELECT COALESCE("installation_id", '00000000-0000-0000-0000-000000000000'), ${DEVICE_COLUMNS}
      FROM "device"`);
    await queryRunner.query(`
      CREATE TABLE "device_organization_next" (
        "namespace" varchar(36) NOT NULL,
        "device_id" varchar(36) NOT NULL,
        "organization_id" varchar(36) NOT NULL,
        PRIMARY KEY ("namespace", "device_id", "organization_id"),
        CONSTRAINT "FK_device_organization_device" FOREIGN KEY ("namespace", "device_id")
          REFERENCES "device_next" ("namespace", "id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      INSERT INTO "device_organization_next" ("namespace", "device_id", "organization_id")
      SELECT "device"."namespace", "membership"."device_id", "membership"."organization_id"
      FROM "device_organization" AS "membership"
      JOIN "device_next" AS "device" ON "device"."id" = "membership"."device_id"`);
    await queryRunner.query(`DROP TABLE "device_organization"`);
    await queryRunner.query(`DROP TABLE "device"`);
    await queryRunner.query(`ALTER TABLE "device_next" RENAME TO "device"`);
    await queryRunner.query(`ALTER TABLE "device_organization_next" RENAME TO "device_organization"`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_device_namespace_user_identifier" ON "device" ("namespace", "user_id", "identifier")`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_device_organization_namespace_organization_id" ON "device_organization" ("namespace", "organization_id")`,
    );
  }

  /**
   * Back to one registry for everyone. It fails on the primary key (and changes nothing) while a
   * device id or a user's identifier is registered in two namespaces: remove one of them first.
   */
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "device_previous" (
        "id" varchar(36) PRIMARY KEY NOT NULL,
        "user_id" varchar(36) NOT NULL,
        "identifier" varchar(255) NOT NULL,
        "type" integer NOT NULL,
        "provider" varchar(16),
        "push_token" text,
        "web_push_endpoint" text,
        "web_push_p256dh" text,
        "web_push_auth" text,
        "installation_id" varchar(36),
        "failure_count" integer NOT NULL DEFAULT (0),
        "created_at" datetime NOT NULL,
        "updated_at" datetime NOT NULL,${DEVICE_CHECKS}
      )`);
    await queryRunner.query(`
      INSERT INTO "device_previous" ("installation_id", ${DEVICE_COLUMNS})
      SELECT NULLIF("namespace", '00000000-0000-0000-0000-000000000000'), ${DEVICE_COLUMNS}
      FROM "device"`);
    await queryRunner.query(`
      CREATE TABLE "device_organization_previous" (
        "device_id" varchar(36) NOT NULL,
        "organization_id" varchar(36) NOT NULL,
        PRIMARY KEY ("device_id", "organization_id"),
        CONSTRAINT "FK_device_organization_device" FOREIGN KEY ("device_id")
          REFERENCES "device_previous" ("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      INSERT INTO "device_organization_previous" ("device_id", "organization_id")
      SELECT "device_id", "organization_id" FROM "device_organization"`);
    await queryRunner.query(`DROP TABLE "device_organization"`);
    await queryRunner.query(`DROP TABLE "device"`);
    await queryRunner.query(`ALTER TABLE "device_previous" RENAME TO "device"`);
    await queryRunner.query(`ALTER TABLE "device_organization_previous" RENAME TO "device_organization"`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_device_user_identifier" ON "device" ("user_id", "identifier")`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_device_installation_id" ON "device" ("installation_id")`);
    await queryRunner.query(
      `CREATE INDEX "IDX_device_organization_organization_id" ON "device_organization" ("organization_id")`,
    );
  }
}

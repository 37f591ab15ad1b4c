import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The device registry, installations and secrets. Unqualified names: every connection's
 * search_path is the configured schema. The unique (user_id, identifier) index also serves the
 * by-user target query (user_id is its leading column), so user_id has no index of its own.
 */
export class InitialSchema1795400000000 implements MigrationInterface {
  name = 'InitialSchema1795400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "device" (
        "id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "identifier" varchar(255) NOT NULL,
        "type" integer NOT NULL,
        "provider" varchar(16),
        "push_token" text,
        "web_push_endpoint" text,
        "web_push_p256dh" text,
        "web_push_auth" text,
        "installation_id" uuid,
        "failure_count" integer NOT NULL DEFAULT 0,
        "created_at" timestamptz NOT NULL,
        "updated_at" timestamptz NOT NULL,
        CONSTRAINT "PK_device" PRIMARY KEY ("id"),
        CONSTRAINT "CHK_device_provider" CHECK ("provider" IS NULL OR "provider" IN ('fcm', 'apns', 'webpush')),
        CONSTRAINT "CHK_device_web_push" CHECK (
          ("web_push_endpoint" IS NULL) = ("web_push_p256dh" IS NULL)
          AND ("web_push_endpoint" IS NULL) = ("web_push_auth" IS NULL)
        ),
        CONSTRAINT "CHK_device_failure_count" CHECK ("failure_count" >= 0)
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_device_user_identifier" ON "device" ("user_id", "identifier")`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_device_installation_id" ON "device" ("installation_id")`);

    await queryRunner.query(`
      CREATE TABLE "device_organization" (
        "device_id" uuid NOT NULL,
        "organization_id" uuid NOT NULL,
        CONSTRAINT "PK_device_organization" PRIMARY KEY ("device_id", "organization_id"),
        CONSTRAINT "FK_device_organization_device" FOREIGN KEY ("device_id")
          REFERENCES "device" ("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE INDEX "IDX_device_organization_organization_id" ON "device_organization" ("organization_id")`,
    );

    await queryRunner.query(`
      CREATE TABLE "installation" (
        "id" uuid NOT NULL,
        "key_hash" varchar(255) NOT NULL,
        "enabled" boolean NOT NULL DEFAULT true,
        "created_at" timestamptz NOT NULL,
        CONSTRAINT "PK_installation" PRIMARY KEY ("id")
      )`);

    await queryRunner.query(`
      CREATE TABLE "secret" (
        "name" varchar(255) NOT NULL,
        "value" text NOT NULL,
        CONSTRAINT "PK_secret" PRIMARY KEY ("name")
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "secret"`);
    await queryRunner.query(`DROP TABLE "installation"`);
    await queryRunner.query(`DROP TABLE "device_organization"`);
    await queryRunner.query(`DROP TABLE "device"`);
  }
}

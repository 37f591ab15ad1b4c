import { type DataSource, type EntityManager } from 'typeorm';

/** How repositories reach the database: one statement at a time, or several in one transaction. */
export interface UnitOfWork {
  /** Runs `work` outside a transaction (reads, single-statement writes). */
  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T>;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T>;
  /** Waits for work in progress, then destroys the data source. */
  close(): Promise<void>;
}

/** PostgreSQL: a connection pool; the server isolates concurrent transactions. */
export class PooledUnitOfWork implements UnitOfWork {
  constructor(private readonly dataSource: DataSource) {}

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return work(this.dataSource.manager);
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * SQLite through sql.js: one in-memory connection and ONE shared TypeORM query runner, so two
 * overlapping transactions would silently nest (savepoints) and a statement issued meanwhile
 * would join someone else's transaction. Everything therefore runs one after the other; each unit
 * also finishes its save to disk (autoSave) before the next starts. Never call back into the unit
 * of work from inside `work`: it would wait for itself.
 */
export class SerialUnitOfWork implements UnitOfWork {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly dataSource: DataSource) {}

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.enqueue(() => work(this.dataSource.manager));
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.enqueue(() => this.dataSource.transaction(work));
  }

  close(): Promise<void> {
    return this.enqueue(async () => {
      if (this.dataSource.isInitialized) await this.dataSource.destroy();
    });
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

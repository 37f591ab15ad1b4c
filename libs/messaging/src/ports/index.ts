/**
 * The broker port: every interaction the services have with the broker, with its guarantees.
 * Two engines implement it (NATS JetStream in `nats/`, in-process memory in `memory/`), and one
 * contract suite (`testing/broker.contract.ts`) holds both to it. Each injection token is declared
 * once, next to its interface; `MessagingModule.forRoot({ engine })` provides them all.
 */
export * from './cluster';
export * from './control';
export * from './deliveries';
export * from './events';
export * from './presence';
export * from './push';
export * from './broker';

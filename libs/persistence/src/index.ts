export { openDatabase } from './open-database';
export * from './persistence-validation.error';
export * from './persistence.ports';

export * from './herald-publisher';

/** Temporary path of the gateway's errors, kept while one importer still names it: see errors/app-error.ts. */
export * from '../errors/app-error.js';

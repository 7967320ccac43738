// The storage module's public surface: the only code in Tessera that touches
// IndexedDB (through idb). Page and training Worker both import from here.
export * from './errors.ts';
export * from './schema.ts';
export * from './database.ts';
export * from './checkpoints.ts';
export * from './outbox.ts';
export * from './settings.ts';
export * from './round-state.ts';
export * from './chart-history.ts';
export * from './kernel-tuning.ts';

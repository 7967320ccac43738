// The wallet module's public surface (browser only: extension.ts imports
// @polkadot/extension-dapp dynamically, on first connect).
export * from './errors.ts';
export * from './extension.ts';
export * from './guest.ts';
export * from './wallet.ts';

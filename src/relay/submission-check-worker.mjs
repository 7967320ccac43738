// Entry of a submission-check worker thread (submission-check-pool.ts): a
// worker does not inherit its parent's TypeScript loader, so this plain
// JavaScript file registers tsx in the worker, then loads the TypeScript one
// and hands its default export (the task function) to piscina.
// Leaves out: everything else (submission-check-worker.ts).
import { register } from 'tsx/esm/api';

register();
const worker = await import('./submission-check-worker.ts');
export default worker.default;

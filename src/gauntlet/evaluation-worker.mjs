// Entry of the evaluation worker thread (evaluator.ts): a worker does not
// inherit its parent's TypeScript loader, so this plain-JavaScript file
// registers tsx in the worker and then loads the TypeScript worker.
// Leaves out: everything else (evaluation-worker.ts).
import { register } from 'tsx/esm/api';

register();
await import('./evaluation-worker.ts');

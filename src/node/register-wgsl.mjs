// `node --import ./src/node/register-wgsl.mjs …` (or `tsx --import …`): installs wgsl-hooks.mjs.
import { register } from 'node:module';
register('./wgsl-hooks.mjs', import.meta.url);

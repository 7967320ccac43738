// Kernel descriptions for SparseLoCo on the GPU: error feedback, chunked
// top-k, and removing what was sent from the residual. Their dispatch helpers
// and the chunk table live with the compression code
// (src/compress/sparseloco-kernels-gpu.ts); twins in src/compress/sparseloco.ts.
import errorFeedbackSource from '../../shaders/error-feedback.wgsl?raw';
import topKSource from '../../shaders/top-k.wgsl?raw';
import removeSentSource from '../../shaders/remove-sent.wgsl?raw';
import type { KernelSpec } from '../gpu/runtime.ts';

export const errorFeedbackKernel: KernelSpec = {
  name: 'error_feedback',
  file: 'error-feedback.wgsl',
  source: errorFeedbackSource,
  entryPoint: 'error_feedback',
  bindings: ['write', 'read', 'read', 'uniform'],
};

export const topKChunksKernel: KernelSpec = {
  name: 'top_k_chunks',
  file: 'top-k.wgsl',
  source: topKSource,
  entryPoint: 'top_k_chunks',
  bindings: ['read', 'read', 'write', 'uniform'],
};

export const removeSentKernel: KernelSpec = {
  name: 'remove_sent',
  file: 'remove-sent.wgsl',
  source: removeSentSource,
  entryPoint: 'remove_sent',
  bindings: ['write', 'read', 'read', 'read', 'read', 'uniform'],
};

export const sparselocoKernels: readonly KernelSpec[] = [errorFeedbackKernel, topKChunksKernel, removeSentKernel];

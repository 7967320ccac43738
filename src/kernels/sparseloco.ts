// Kernel descriptions for SparseLoCo on the GPU: error feedback, chunked
// top-k, and removing what was sent from the residual. Their dispatch helpers
// and the chunk table live with the compression code
// (src/compress/sparseloco-kernels-gpu.ts); twins in src/compress/sparseloco.ts.
// top_k_chunks has no override: its 64 lanes, 8-lane groups and 2048 bins are
// one interlocked design (see the shader's header), not a tuning knob, and the
// host never computes with them (its grid is one workgroup per chunk).
import errorFeedbackSource from '../../shaders/error-feedback.wgsl?raw';
import topKSource from '../../shaders/top-k.wgsl?raw';
import removeSentSource from '../../shaders/remove-sent.wgsl?raw';
import { ELEMENTWISE_WORKGROUP_SIZE, type KernelSpec } from '../gpu/runtime.ts';

export const errorFeedbackKernel: KernelSpec = {
  name: 'error_feedback',
  file: 'error-feedback.wgsl',
  source: errorFeedbackSource,
  entryPoint: 'error_feedback',
  bindings: ['write', 'read', 'read', 'uniform'],
  constants: { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP_SIZE },
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
  // A full chunk keeps 64 values: one invocation each.
  constants: { WORKGROUP_SIZE: 64 },
};

export const sparselocoKernels: readonly KernelSpec[] = [errorFeedbackKernel, topKChunksKernel, removeSentKernel];

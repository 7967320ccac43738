// A hash or an address shortened for reading ("0x3f9a…c21e"), with the full
// value on hover (title), to screen readers (the label says it is shortened
// and gives it whole) and one click from the clipboard: people compare the
// ends of a hash, tools need all of it.
// Leaves out: checksums or identicons (an SS58 address has its own checksum).
import { useState } from 'react';

/** "0x3f9a…c21e": the first `head` and last `tail` characters. */
export function shorten(value: string, head = 6, tail = 4): string {
  return value.length <= head + tail + 1 ? value : `${value.slice(0, head)}…${value.slice(-tail)}`;
}

export function ShortHash({ value, label, testId }: { value: string; label: string; testId?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    navigator.clipboard?.writeText(value).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };
  return (
    <span className="short-hash" data-testid={testId} data-full={value}>
      <code title={value} aria-label={`${label}, shortened: ${value}`}>
        {shorten(value)}
      </code>
      <button type="button" className="link-button" onClick={copy} aria-label={`Copy the full ${label}`}>
        {copied ? 'copied' : 'copy'}
      </button>
    </span>
  );
}

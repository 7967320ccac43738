// The QR code of the join URL for the demo screen, drawn as SVG by the
// `qrcode` package (the most used QR encoder on npm; its SVG output scales to
// a projector without blurring, and it handles versions and error correction
// we would otherwise have to write and test).
import { useEffect, useState } from 'react';
import QRCode from 'qrcode';

export function JoinQr({ url }: { url: string }) {
  const [svg, setSvg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    // Level M: survives a smudged or angled phone camera; the URL stays short enough for a coarse code.
    QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, color: { dark: '#0f172a', light: '#ffffff' } }).then(
      (markup) => live && setSvg(markup),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [url]);
  if (error) return <p role="alert">Could not draw the QR code: {error}</p>;
  return (
    <figure className="join-qr" data-testid="join-qr" data-url={url} data-ready={svg !== null}>
      {/* The markup is the qrcode package's own SVG output for our URL, not user input. */}
      <div role="img" aria-label={`QR code for ${url}`} dangerouslySetInnerHTML={svg ? { __html: svg } : undefined} />
      <figcaption>{url}</figcaption>
    </figure>
  );
}

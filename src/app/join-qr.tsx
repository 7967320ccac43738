// The QR code of the join URL for the demo screen, drawn by the `qrcode`
// package (the most used QR encoder on npm: it handles versions and error
// correction we would otherwise have to write and test) onto a canvas at a
// whole number of pixels per module, scaled up by CSS without smoothing, so it
// stays sharp on a projector and its pixels are the code itself (the e2e test
// decodes them).
// Leaves out: which URL to encode (demo-screen.tsx: the relay's join URL).
import { useEffect, useRef, useState } from 'react';
import QRCode from 'qrcode';

/** Canvas pixels per QR module before CSS scaling: crisp at any size up to ~10× that. */
const PIXELS_PER_MODULE = 8;

export function JoinQr({ url }: { url: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setReady(false);
    // Level M: survives a smudged or angled phone camera; the URL stays short enough for a coarse code.
    QRCode.toCanvas(canvas.current!, url, { errorCorrectionLevel: 'M', margin: 2, scale: PIXELS_PER_MODULE, color: { dark: '#0f172a', light: '#ffffff' } }).then(
      () => live && setReady(true),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [url]);
  return (
    <figure className="join-qr" data-testid="join-qr" data-url={url} data-ready={ready}>
      <canvas ref={canvas} role="img" aria-label={`QR code for ${url}`} />
      {error && <p role="alert">Could not draw the QR code: {error}</p>}
      <figcaption>{url}</figcaption>
    </figure>
  );
}

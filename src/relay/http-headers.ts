// The headers every answer of the relay carries, and why, in one place:
// browser security policy for the app, cross-origin isolation, and CORS for
// the API. server.ts adds them; tests/e2e/app-csp.test.ts runs the built app
// under them and fails on any policy violation.
//
// Content-Security-Policy, directive by directive — what the app needs and
// nothing more:
//   default-src 'none'                  anything not listed below is refused
//   script-src 'self' 'wasm-unsafe-eval'  Vite's bundles from this origin; compiling
//                                       WebAssembly (onnxruntime-web's wasm, the
//                                       sr25519/BLAKE2b wasm of @polkadot/wasm-crypto).
//                                       No 'unsafe-inline', no 'unsafe-eval'.
//   worker-src 'self'                   the training Worker (a module script from /assets)
//   connect-src 'self'                  fetch of the API, data, model and wasm files, and
//                                       the push channel (CSP3: 'self' also matches ws:/wss:
//                                       of this host)
//   img-src 'self'                      the favicon
//   style-src 'self'                    Vite's CSS file; React sets styles through the CSSOM,
//                                       which style-src does not govern
//   manifest-src 'self', font-src 'self'
//   base-uri 'none', form-action 'none', object-src 'none'
//   frame-ancestors 'none'              no site may frame the wallet-connecting page
//                                       (clickjacking); X-Frame-Options: DENY for browsers
//                                       that predate CSP 2
// The same policy goes on every answer (a JSON body opened as a document gets
// it too); a Worker script takes the policy of its own response.
//
// Leaves out: Trusted Types (React's dangerouslySetInnerHTML draws the QR code's
// SVG), a report-uri (the relay has nowhere to send reports), HSTS (TLS is a
// reverse proxy's job).

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "style-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** On every answer: security policy and cross-origin isolation (threaded wasm needs COOP + COEP). */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // The app links nowhere that needs to know where a visitor came from.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** The app's own files: readable by this origin only. */
export const APP_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON_HEADERS,
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const EXPOSED = 'ETag, X-Tessera-Model-Version, X-Tessera-Model-Hash, X-Tessera-Latest-Version, Retry-After';

/**
 * API answers: which origins may read them. '*' lets any page read the API —
 * public, signed data; the relay never reads cookies, so credentials are never
 * allowed. A list echoes an allowed Origin (with Vary: Origin) and gives
 * others no Access-Control header at all, so their browsers withhold the answer.
 */
export function apiHeaders(origins: '*' | readonly string[], requestOrigin: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { ...COMMON_HEADERS, 'Cross-Origin-Resource-Policy': 'cross-origin' };
  if (origins === '*') {
    headers['Access-Control-Allow-Origin'] = '*';
    headers['Access-Control-Expose-Headers'] = EXPOSED;
  } else {
    headers.Vary = 'Origin';
    if (requestOrigin !== undefined && origins.includes(requestOrigin)) {
      headers['Access-Control-Allow-Origin'] = requestOrigin;
      headers['Access-Control-Expose-Headers'] = EXPOSED;
    }
  }
  return headers;
}

/** A CORS preflight's extra answer: the methods and request headers the API takes. */
export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, If-None-Match',
  'Access-Control-Max-Age': '600',
};

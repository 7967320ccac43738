// The no-WebGPU advice (src/app/browser-advice.ts) names the browser and
// version that works on the reader's system, mentions https when the page is
// not a secure context, and keeps chrome://flags for last.
import { describe, expect, it } from 'vitest';
import { browserAdvice } from '../../src/app/browser-advice.ts';

const UA = {
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36',
  macSafari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Safari/605.1.15',
  winFirefox: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  linuxFirefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
  winEdge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0',
};

describe('browserAdvice', () => {
  it('names the browser and version for each system', () => {
    expect(browserAdvice('webgpu-unavailable', UA.iphone, true).headline).toMatch(/iOS .*26.*Safari/);
    expect(browserAdvice('webgpu-unavailable', UA.android, true).headline).toMatch(/Chrome 121/);
    expect(browserAdvice('webgpu-unavailable', UA.macSafari, true).headline).toMatch(/Safari 26/);
    expect(browserAdvice('webgpu-unavailable', UA.winFirefox, true).headline).toMatch(/Firefox 141/);
    expect(browserAdvice('webgpu-unavailable', UA.winEdge, true).headline).toMatch(/Chrome or Edge 113/);
    const linux = browserAdvice('webgpu-unavailable', UA.linuxFirefox, true);
    expect(linux.steps.join(' ')).toMatch(/Firefox offers WebGPU on Windows only/);
  });

  it('says https first when the page is not a secure context, and keeps the flags for last', () => {
    const advice = browserAdvice('webgpu-unavailable', UA.android, false);
    expect(advice.steps[0]).toMatch(/https/);
    expect(advice.steps.at(-1)).toMatch(/chrome:\/\/flags/);
    expect(advice.steps.slice(0, -1).join(' ')).not.toMatch(/chrome:\/\/flags/);
  });

  it('tells a browser with WebGPU but no usable adapter to update drivers and turn acceleration on', () => {
    const advice = browserAdvice('adapter-unavailable', UA.winEdge, true);
    expect(advice.headline).toMatch(/no graphics chip/);
    expect(advice.steps.join(' ')).toMatch(/graphics driver/);
    expect(advice.steps.at(-1)).toMatch(/chrome:\/\/flags/);
  });
});

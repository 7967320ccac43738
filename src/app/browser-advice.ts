// What a person should do when this browser cannot train, in their words:
// which browser (and version) brings WebGPU on the system they are on, read
// from the user agent, with browser flags only as a last resort. The device
// panel shows the technical reason beside it for anyone who asks.
// Sources: each browser's WebGPU release notes — Chrome/Edge 113 (Windows,
// macOS, ChromeOS), Chrome 121 (Android 12+), Safari 26 (macOS 26, iOS and
// iPadOS 26), Firefox 141 (Windows); Linux Chrome still behind a flag.
// Leaves out: detecting the GPU model (the browser does not tell before WebGPU).

export interface BrowserAdvice {
  /** One sentence: what to use instead. */
  headline: string;
  /** Further steps, most likely to help first. */
  steps: string[];
}

type System = 'windows' | 'mac' | 'ios' | 'android' | 'chromeos' | 'linux' | 'other';
type Browser = 'chrome' | 'edge' | 'firefox' | 'safari' | 'other';

function systemOf(ua: string): System {
  if (/iPhone|iPad|iPod/.test(ua)) return 'ios';
  if (/Android/.test(ua)) return 'android';
  if (/CrOS/.test(ua)) return 'chromeos';
  if (/Windows/.test(ua)) return 'windows';
  if (/Macintosh|Mac OS X/.test(ua)) return 'mac';
  if (/Linux/.test(ua)) return 'linux';
  return 'other';
}

function browserOf(ua: string): Browser {
  if (/Edg\//.test(ua)) return 'edge';
  if (/Firefox\/|FxiOS/.test(ua)) return 'firefox';
  if (/Chrome\/|CriOS/.test(ua)) return 'chrome';
  if (/Safari\//.test(ua)) return 'safari';
  return 'other';
}

const SECURE_CONTEXT_STEP = 'Open the page through its https address (or on this computer through localhost): browsers only offer WebGPU to secure pages.';
const LAST_RESORT =
  'Last resort, for the curious: Chrome and Edge can switch WebGPU on by hand at chrome://flags/#enable-unsafe-webgpu (and chrome://flags/#enable-vulkan on Linux). Flags are experimental; turn them off again afterwards.';

/**
 * Advice for a browser that has no WebGPU ('webgpu-unavailable') or found no
 * usable GPU ('adapter-unavailable'), from its user agent and whether the page
 * is a secure context.
 */
export function browserAdvice(code: string, userAgent: string, secureContext: boolean): BrowserAdvice {
  const system = systemOf(userAgent);
  const browser = browserOf(userAgent);
  const steps: string[] = [];
  if (!secureContext) steps.push(SECURE_CONTEXT_STEP);

  if (code === 'adapter-unavailable') {
    return {
      headline: 'This browser has WebGPU but found no graphics chip it may use.',
      steps: [
        ...steps,
        'Update the browser and the graphics driver, then reload.',
        'Check that hardware acceleration is on (in Chrome and Edge: Settings → System → "Use graphics acceleration when available").',
        system === 'linux' ? 'On Linux, Chrome uses WebGPU through Vulkan: install your GPU\'s Vulkan driver.' : 'Try another browser from the list below if it persists.',
        LAST_RESORT,
      ],
    };
  }

  let headline: string;
  switch (system) {
    case 'ios':
      headline = 'On an iPhone or iPad, WebGPU comes with iOS / iPadOS 26: update the system and open this page in Safari.';
      break;
    case 'android':
      headline = 'On Android, open this page in Chrome 121 or newer (Android 12 or newer).';
      break;
    case 'mac':
      headline = browser === 'safari' ? 'Update to Safari 26 (macOS 26) — or open this page in Chrome or Edge 113 or newer.' : 'Open this page in Chrome or Edge 113 or newer, or in Safari 26 (macOS 26).';
      break;
    case 'windows':
      headline = browser === 'firefox' ? 'Update to Firefox 141 or newer — or open this page in Chrome or Edge 113 or newer.' : 'Open this page in Chrome or Edge 113 or newer, or Firefox 141 or newer.';
      break;
    case 'chromeos':
      headline = 'Update Chrome to version 113 or newer.';
      break;
    case 'linux':
      headline = 'On Linux, WebGPU is not yet on by default in any browser: the easiest way to help is from another device (a Windows PC, a Mac, an Android phone).';
      break;
    default:
      headline = 'Open this page in Chrome or Edge 113 or newer, Safari 26, or Firefox 141 or newer on Windows.';
  }
  if (browser === 'firefox' && system !== 'windows') steps.push('Firefox offers WebGPU on Windows only so far; on this system use Chrome or Edge.');
  if (browser === 'other') steps.push('This browser does not say it supports WebGPU; Chrome, Edge, Safari 26 and Firefox 141 on Windows do.');
  steps.push('Already on a recent version? Update the graphics driver and check that hardware acceleration is on.');
  steps.push(LAST_RESORT);
  return { headline, steps };
}

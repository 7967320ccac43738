// The tab's GPU, as the training Worker reports it: the first component that
// asks starts the Worker's probe (device facts, then the self-test); every
// component reads the same answer from the training feed. The page itself
// holds no GPUDevice: the Worker's is the tab's only one.
import { useEffect } from 'react';
import { trainingFeed, useTraining, type DeviceView, type SelfTestView } from './training-feed.ts';

export type { DeviceView, SelfTestView };

export function useDevice(): { device: DeviceView; selfTest: SelfTestView } {
  const feed = trainingFeed();
  const view = useTraining(feed);
  useEffect(() => feed.probe(), [feed]);
  return { device: view.device, selfTest: view.selfTest };
}

// Two screens without a router library: '#/demo' is the demo screen, anything
// else the dashboard. Hash routes work from any static host (the relay serves
// dist/ as plain files) and need no server rewrite rules.
import { useEffect, useState } from 'react';

export type Route = 'dashboard' | 'demo';

export function routeOf(hash: string): Route {
  return hash.replace(/^#\/?/, '').split(/[/?]/)[0] === 'demo' ? 'demo' : 'dashboard';
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => routeOf(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(routeOf(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

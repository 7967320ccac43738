// App entry: mounts React. Everything GPU-related happens behind the
// device module (and later the training Worker); the UI only renders state.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.tsx';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// Builds the dashboard into dist/ for the hub to serve at /ui/: Preact's JSX through Vite's own
// transformer (no Babel plugin), every asset content-hashed under assets/, nothing from a CDN.
import { defineConfig } from 'vite';

export default defineConfig({
  // Absolute: client-side routes (/ui/things/{id}) load the same index.html and its assets.
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The hub serves the files itself; a source map helps an operator report a UI fault.
    sourcemap: true,
  },
});

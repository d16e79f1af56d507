import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Nothing Duet-specific: the SDK's worker, duet.wasm and wasm_exec.js are
// found by Vite from the package's new URL(…, import.meta.url) references.
export default defineConfig({
  plugins: [react()],
});

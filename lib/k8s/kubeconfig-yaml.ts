/**
 * The YAML parser for kubeconfig files, in a module of its own so `loadClusterAccess` can load it
 * only when it reads a file (a pod's ServiceAccount never does). A static re-export rather than
 * `await import('yaml')`: `yaml` is CommonJS, and the bundled build (`npm run build`) gives a
 * dynamic import of a CommonJS package only its default export, where Node gives the named ones too.
 */
export { parse as parseYaml } from 'yaml';

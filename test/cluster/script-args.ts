import type { CliIo } from '../../lib/cli/io.js';
import { EXIT_OK, EXIT_USAGE } from '../../lib/cli/io.js';
import { requiredGo } from './binaries.js';

/**
 * The arguments of a development script configured only by environment variables (`npm start`,
 * `npm run dev:cluster`): `--help`/`-h` prints `usage()` (exit 0), anything else is refused
 * (exit 2, naming `script`'s help); no argument: undefined, the script runs.
 */
export function helpOnly(script: string, argv: readonly string[], usage: () => string, io: CliIo): number | undefined {
  const unknown = argv.find((arg) => arg !== '--help' && arg !== '-h');
  if (unknown !== undefined) {
    io.stderr.write(`${script}: unknown argument "${unknown}": it takes none but --help and is configured by environment variables (${script} -- --help)\n`);
    return EXIT_USAGE;
  }
  if (argv.length === 0) return undefined;
  io.stdout.write(usage());
  return EXIT_OK;
}

/** The end of both scripts' help: the variables naming the cluster's binaries, and their build. */
export const clusterBinariesHelp = (): string => `  TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, TEST_ASSET_KUBECTL
                            the same three binaries, each named on its own
  MIKROLB_CACHE_DIR         where the binaries are built and kept (default: mikrolb/ in
                            XDG_CACHE_HOME, else in ~/.cache)

Without those binaries the first run builds them with Go >= ${requiredGo()} (10–20 minutes, once;
README.md, Prerequisites).
`;

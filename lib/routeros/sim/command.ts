/** One API sentence sent by a client, split into its parts. */
export interface ParsedCommand {
  /** The command word, e.g. `/ip/firewall/nat/print`. */
  path: string;
  tag: string | undefined;
  /** `=name=value` words (and `.proplist=`, which clients also send without the leading `=`). */
  attrs: Map<string, string>;
  /** `?...` words in order. */
  queries: string[];
  /** Words that are none of the above. */
  stray: string[];
}

export function parseCommand(words: readonly string[]): ParsedCommand {
  const [path = '', ...rest] = words;
  const command: ParsedCommand = { path, tag: undefined, attrs: new Map(), queries: [], stray: [] };
  for (const word of rest) {
    if (word.startsWith('=')) {
      const eq = word.indexOf('=', 1);
      if (eq < 0) command.attrs.set(word.slice(1), '');
      else command.attrs.set(word.slice(1, eq), word.slice(eq + 1));
    } else if (word.startsWith('.tag=')) command.tag = word.slice(5);
    else if (word.startsWith('.proplist=')) command.attrs.set('.proplist', word.slice(10));
    else if (word.startsWith('?')) command.queries.push(word);
    else command.stray.push(word);
  }
  return command;
}

const SECRET_ATTRIBUTES = new Set(['password', 'response']);

/** The words of a command as the command log keeps them: secrets replaced. */
export function redactedWords(words: readonly string[]): string[] {
  return words.map((word) => {
    const eq = word.indexOf('=', 1);
    return word.startsWith('=') && eq > 0 && SECRET_ATTRIBUTES.has(word.slice(1, eq)) ? `${word.slice(0, eq + 1)}***` : word;
  });
}

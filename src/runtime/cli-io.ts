/**
 * What command-line tools (`minstore export`, `minstore import`) need of a runtime besides fetch:
 * the standard streams as web streams, and a progress display on stderr. The runtimes implement
 * it (src/runtime/node/cli-io.ts); src/backup/backup-cli.ts uses it.
 */

export interface ProgressFigures {
  records: number;
  bytes: number;
}

export interface ProgressDisplay {
  update(figures: ProgressFigures): void;
  /** Clears the display: the summary line comes next. */
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  /** What the bar fills up with: the records expected, or the bytes of the input (for the time left); absent: unknown. */
  total?: { records: number } | { bytes: number };
}

export interface CliIo {
  stdin(): ReadableStream<Uint8Array>;
  /** The size of stdin when it is a regular file (`< file`), else undefined. */
  stdinSize(): number | undefined;
  stdout(): WritableStream<Uint8Array>;
  /** Whether stdin is a terminal: then no backup was redirected into it. */
  readonly stdinIsTerminal: boolean;
  /** Whether stderr is a terminal: only then is a progress bar drawn. */
  readonly stderrIsTerminal: boolean;
  /** A progress bar on stderr (records, bytes, rate, time left); call only when stderrIsTerminal. */
  progress(options: ProgressOptions): ProgressDisplay;
}

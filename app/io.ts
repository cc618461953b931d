// Where a command writes: stdout for its answer, stderr for progress and errors. Passed in, so that the
// commands run in unit tests without a process of their own.
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

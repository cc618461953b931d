import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** e2e files run one after another in name order, so the final log check (zz-*) runs last. */
class ByName extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          // One set of real clusters is started per run and shared by every e2e file.
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          sequence: { sequencer: ByName },
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});

/**
 * The storage conformance suite on Bun: FileStorage and LogStorage over src/runtime/node/fs.ts, the FsModule the
 * Bun runtime uses (Bun implements node:fs), run with `bun test` by tests/storage.bun.test.ts. Bun
 * implements node:test, so the suite is the very same file the Node side runs.
 */
import { nodeFs } from "../../src/runtime/node/fs.ts";
import { fileSubject } from "../helpers/file-subject.ts";
import { logSubject } from "../helpers/log-subject.ts";
import { storageConformance } from "../storage-conformance.ts";

storageConformance("FileStorage over node:fs on Bun", () => fileSubject(nodeFs));
storageConformance("FileStorage over node:fs on Bun, 256-byte journal segments", () => fileSubject(nodeFs, { segmentBytes: 256 }));
storageConformance("LogStorage over node:fs on Bun", () => logSubject(nodeFs));
storageConformance("LogStorage over node:fs on Bun, 256-byte segments merged at once", () => logSubject(nodeFs, { segmentBytes: 256, mergeMinBytes: 0, compactEveryMs: 5 }));

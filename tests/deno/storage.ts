/**
 * The storage conformance suite on Deno: FileStorage and LogStorage over the Deno FsModule (src/runtime/deno/fs.ts),
 * run with `deno test` by tests/storage.deno.test.ts. Deno implements node:test, so the suite is the
 * very same file the Node side runs.
 */
import { denoFs } from "../../src/runtime/deno/fs.ts";
import { fileSubject } from "../helpers/file-subject.ts";
import { logSubject } from "../helpers/log-subject.ts";
import { storageConformance } from "../storage-conformance.ts";

storageConformance("FileStorage over the Deno FsModule", () => fileSubject(denoFs));
storageConformance("FileStorage over the Deno FsModule, 256-byte journal segments", () => fileSubject(denoFs, { segmentBytes: 256 }));
storageConformance("LogStorage over the Deno FsModule", () => logSubject(denoFs));
storageConformance("LogStorage over the Deno FsModule, 256-byte segments merged at once", () => logSubject(denoFs, { segmentBytes: 256, mergeMinBytes: 0, compactEveryMs: 5 }));

/**
 * The sync digest's bookkeeping: versions kept as parts come back as the same strings (also the
 * expiry tombstones' `-expired` ones and shapes no clock makes), segment listings hold exactly the
 * uids of those segments, and the hashes depend only on what is held, not on the order of writes.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createSyncDigest, SEGMENTS, segmentOf } from "../src/spread/sync/digest.ts";
import { formatVersion } from "../src/version.ts";

const v = (n: number, node = "n1") => formatVersion(1_700_000_000_000 + n, n % 10_000, node);

describe("createSyncDigest()", () => {
  test("hands back each version exactly as it was set, whatever its shape", () => {
    const digest = createSyncDigest();
    const versions = [v(1), v(2, "node-b"), `${v(3)}-expired`, "not-a-clock-version", "0000000000001-0001-x", "1700000000000-0000-"];
    versions.forEach((version, index) => digest.set("c", `u${index}`, version));
    versions.forEach((version, index) => assert.equal(digest.versionOf("c", `u${index}`), version));
    digest.set("c", "u3", v(9));
    assert.equal(digest.versionOf("c", "u3"), v(9), "a slot that held another shape takes a canonical one");
    assert.equal(digest.size, versions.length);
  });

  test("counts entries and tombstones per collection through updates, deletes and purges", () => {
    const digest = createSyncDigest();
    digest.set("c", "a", v(1));
    digest.set("c", "b", v(2), true);
    digest.set("c", "b", v(3));
    digest.set("c", "a", v(4), true);
    digest.set("c", "z", v(5), true);
    digest.set("c", "z", undefined);
    digest.set("d", "a", v(6));
    assert.deepEqual(digest.counts(), [{ collection: "c", entries: 2, tombstones: 1 }, { collection: "d", entries: 1, tombstones: 0 }]);
    assert.equal(digest.size, 3);
    assert.equal(digest.versionOf("c", "z"), undefined);
  });

  test("lists the (uid, version) pairs of the asked segments only, and reuses freed slots", () => {
    const digest = createSyncDigest();
    const uids = Array.from({ length: 3000 }, (_, index) => `k${index}`);
    uids.forEach((uid, index) => digest.set("c", uid, v(index)));
    for (const uid of uids.slice(0, 1000)) digest.set("c", uid, undefined);
    uids.slice(0, 500).forEach((uid, index) => digest.set("c", uid, v(10_000 + index)));
    const asked = [segmentOf("k2999"), segmentOf("k1"), 7];
    const expected = new Map<string, string>();
    uids.forEach((uid, index) => {
      if (index >= 500 && index < 1000) return;
      if (asked.includes(segmentOf(uid))) expected.set(uid, index < 500 ? v(10_000 + index) : v(index));
    });
    const listed = digest.keys("c", asked);
    assert.equal(listed.length, expected.size);
    assert.deepEqual(new Map(listed), expected);
    assert.deepEqual(digest.keys("nothing", asked), []);
  });

  test("ends with the same hashes whatever the order of the writes that led there", () => {
    const forwards = createSyncDigest();
    const backwards = createSyncDigest();
    const uids = Array.from({ length: 200 }, (_, index) => `k${index}`);
    uids.forEach((uid, index) => forwards.set("c", uid, v(index)));
    [...uids].reverse().forEach((uid) => backwards.set("c", uid, v(999)));
    [...uids].reverse().forEach((uid, index) => backwards.set("c", uid, v(uids.length - 1 - index)));
    assert.deepEqual(backwards.groups("c"), forwards.groups("c"));
    const all = Array.from({ length: SEGMENTS / 32 }, (_, group) => group);
    assert.deepEqual(backwards.segments("c", all), forwards.segments("c", all));
    forwards.set("c", "k0", undefined);
    assert.notDeepEqual(forwards.groups("c"), backwards.groups("c"));
  });
});

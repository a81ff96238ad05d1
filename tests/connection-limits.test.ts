/**
 * Connections are bounded: a maximum, and header, request and idle timeouts of seconds.
 * Real nodes on 127.0.0.1 with small limits, raw sockets as clients; counts and waits are bounded.
 * On Deno and Bun, their servers allow less (see src/runtime/{deno,bun}/): requests in flight and bodies,
 * and on Bun an idle keep-alive connection.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

/** Generous next to the 1 s timeouts below; without the bounds these connections stayed open 30-90 s. */
const CLOSED_WITHIN_MS = 6_000;

function withServer(runtime: RuntimeName, args: string[]) {
  const handle = { server: undefined as unknown as ServerProcess };
  let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
  before(async () => {
    dirs = await tempNodeDir();
    handle.server = await startServer({ runtime, serversList: dirs.serversList, dataDir: dirs.dataDir, args });
  });
  after(async () => {
    await handle.server.stop();
    await dirs.remove();
  });
  return handle;
}

describe("connection limits on node", () => {
  const node = withServer("node", ["--max-connections", "20", "--headers-timeout", "1s", "--request-timeout", "2s", "--idle-timeout", "1s"]);

  test("past --max-connections the extra connections are closed at once", async () => {
    const clients = await Promise.all(Array.from({ length: 30 }, () => open(node.server.port)));
    try {
      // Well before the 1 s headers timeout: only the extra ten are gone.
      await sleep(400);
      const closed = clients.filter((client) => client.isClosed()).length;
      assert.equal(closed, 10, `${closed} of 30 closed`);
    } finally {
      for (const client of clients) client.socket.destroy();
    }
    // Once they are gone, the node serves again.
    await sleep(200);
    assert.equal((await fetch(`${node.server.url}/healthz`)).status, 200);
  });

  test("a connection that sends nothing is closed within about the headers timeout", async () => {
    const client = await open(node.server.port);
    const closedAfter = await client.closedWithin(CLOSED_WITHIN_MS);
    assert.ok(closedAfter !== undefined, "still open");
  });

  test("a client dribbling its headers a byte at a time is cut", async () => {
    const client = await open(node.server.port);
    const dribble = dribbler(client.socket, "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: " + "a".repeat(200));
    try {
      assert.ok((await client.closedWithin(CLOSED_WITHIN_MS)) !== undefined, "still open");
      assert.match(client.received(), /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(dribble);
    }
  });

  test("a body dribbled a byte at a time is cut by the request timeout", async () => {
    const client = await open(node.server.port);
    client.socket.write("POST /text/slow HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n");
    const dribble = dribbler(client.socket, '{"value":"' + "a".repeat(480));
    try {
      assert.ok((await client.closedWithin(CLOSED_WITHIN_MS)) !== undefined, "still open");
    } finally {
      clearInterval(dribble);
    }
    assert.equal((await fetch(`${node.server.url}/text/slow`)).status, 404);
  });

  test("an idle keep-alive connection is closed after the idle timeout", async () => {
    const client = await open(node.server.port);
    client.socket.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
    assert.ok((await client.closedWithin(CLOSED_WITHIN_MS)) !== undefined, "still open");
    assert.match(client.received(), /^HTTP\/1\.1 200/);
  });
});

for (const runtime of ["deno", "bun"] satisfies RuntimeName[]) {
  describe(`connection limits on ${runtime} (what its server allows, through boundedHandler)`, () => {
    const node = withServer(runtime, ["--max-connections", "2", "--request-timeout", "1s", "--idle-timeout", "1s"]);
    const slowPost = async () => {
      const client = await open(node.server.port);
      client.socket.write("POST /text/slow HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{");
      return client;
    };

    test("a body that does not arrive within the request timeout is answered 408", async () => {
      const client = await slowPost();
      try {
        for (let waited = 0; !client.received() && waited < CLOSED_WITHIN_MS; waited += 100) await sleep(100);
        assert.match(client.received(), /^HTTP\/1\.1 408/);
        assert.match(client.received(), /"error":"request_timeout"/);
      } finally {
        client.socket.destroy();
      }
    });

    test("past --max-connections requests in flight, the next is 503", async () => {
      const slow = [await slowPost(), await slowPost()];
      try {
        await sleep(200);
        const response = await fetch(`${node.server.url}/healthz`);
        assert.equal(response.status, 503);
        assert.equal((await response.json()).error, "too_many_requests");
      } finally {
        for (const client of slow) client.socket.destroy();
      }
      // The slow two end with their 408 or their reset; then requests pass again.
      for (let waited = 0; waited < CLOSED_WITHIN_MS; waited += 200) {
        if ((await fetch(`${node.server.url}/healthz`)).status === 200) return;
        await sleep(200);
      }
      assert.fail("the node did not serve again");
    });
    if (runtime === "bun") {
      test("a keep-alive connection idle after its response is closed after max(idle, request timeout) + 1 s", async () => {
        const client = await open(node.server.port);
        client.socket.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
        assert.ok((await client.closedWithin(CLOSED_WITHIN_MS)) !== undefined, "still open");
        assert.match(client.received(), /^HTTP\/1\.1 200/);
      });
    }
  });
}

// --- Internal helpers ---

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Client {
  socket: Socket;
  isClosed(): boolean;
  received(): string;
  /** Milliseconds from the connection to its close by the server, or undefined if still open after `ms`. */
  closedWithin(ms: number): Promise<number | undefined>;
}

function open(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const opened = Date.now();
    let received = "";
    let closedAt: number | undefined;
    const closed = new Promise<void>((done) =>
      socket.on("close", () => {
        closedAt = Date.now();
        done();
      }),
    );
    socket.on("data", (data) => (received += data));
    // A reset of an extra connection is a close like another.
    socket.on("error", () => {});
    socket.once("connect", () =>
      resolve({
        socket,
        isClosed: () => closedAt !== undefined,
        received: () => received,
        async closedWithin(ms) {
          const timer = sleep(ms);
          await Promise.race([closed, timer]);
          if (closedAt === undefined) socket.destroy();
          return closedAt === undefined ? undefined : closedAt - opened;
        },
      }),
    );
    socket.once("error", reject);
  });
}

/** Writes `text` one byte every 250 ms. */
function dribbler(socket: Socket, text: string): ReturnType<typeof setInterval> {
  let index = 0;
  return setInterval(() => {
    if (!socket.destroyed && index < text.length) socket.write(text[index++]!);
  }, 250);
}

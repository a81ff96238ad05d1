/**
 * A TCP proxy on 127.0.0.1 that counts the bytes it carries both ways: what a sync round costs on
 * the wire (tests/sync.test.ts, bench/sync.ts). Until `target` is set it refuses connections, as if
 * nobody listened (a node asks who its peers are as soon as it starts).
 */
import { connect, createServer } from "node:net";

export async function countingProxy() {
  let target = "";
  let bytes = 0;
  const server = createServer((client) => {
    if (!target) return void client.destroy();
    const { hostname, port } = new URL(target);
    const upstream = connect(Number(port), hostname);
    client.on("data", (chunk) => (bytes += chunk.length));
    upstream.on("data", (chunk) => (bytes += chunk.length));
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    target: (url: string) => void (target = url),
    reset: () => void (bytes = 0),
    bytes: () => bytes,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
